-- The Cruddur schema: users and their activities ("cruds").
-- Loading it replaces these tables (and their data). cruddur-db runs the whole file in one
-- transaction, so a failure leaves the database as it was.

DROP TABLE IF EXISTS public.activities;
DROP TABLE IF EXISTS public.users;

CREATE TABLE public.users (
  uuid            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name    text NOT NULL CHECK (length(btrim(display_name)) > 0),
  email           text NOT NULL UNIQUE CHECK (position('@' IN email) > 1),
  handle          text NOT NULL UNIQUE CHECK (length(btrim(handle)) > 0),
  cognito_user_id text UNIQUE,
  created_at      timestamp NOT NULL DEFAULT current_timestamp
);

CREATE TABLE public.activities (
  uuid                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_uuid              uuid NOT NULL REFERENCES public.users (uuid) ON DELETE CASCADE,
  message                text NOT NULL CHECK (char_length(message) BETWEEN 1 AND 280),
  replies_count          integer NOT NULL DEFAULT 0 CHECK (replies_count >= 0),
  reposts_count          integer NOT NULL DEFAULT 0 CHECK (reposts_count >= 0),
  likes_count            integer NOT NULL DEFAULT 0 CHECK (likes_count >= 0),
  reply_to_activity_uuid uuid REFERENCES public.activities (uuid) ON DELETE SET NULL,
  expires_at             timestamp,
  created_at             timestamp NOT NULL DEFAULT current_timestamp
);

CREATE INDEX activities_user_uuid_idx ON public.activities (user_uuid);
CREATE INDEX activities_created_at_idx ON public.activities (created_at DESC);
