-- Seed data: the bootcamp's users and a few activities.

INSERT INTO public.users (display_name, email, handle, cognito_user_id)
VALUES
  ('Andrew Brown', 'andrew@exampro.co', 'andrewbrown', 'MOCK-andrewbrown'),
  ('Andrew Bayko', 'bayko@exampro.co', 'bayko', 'MOCK-bayko'),
  ('Londo Mollari', 'lmollari@centari.com', 'londo', 'MOCK-londo');

INSERT INTO public.activities (user_uuid, message, expires_at)
VALUES
  (
    (SELECT uuid FROM public.users WHERE users.handle = 'andrewbrown' LIMIT 1),
    'This was imported as seed data!',
    current_timestamp + interval '10 day'
  ),
  (
    (SELECT uuid FROM public.users WHERE users.handle = 'bayko' LIMIT 1),
    'I am the other Andrew!',
    current_timestamp + interval '7 day'
  ),
  (
    (SELECT uuid FROM public.users WHERE users.handle = 'londo' LIMIT 1),
    'Ah, arrogance and stupidity all in the same package. How efficient of you.',
    current_timestamp + interval '3 day'
  );
