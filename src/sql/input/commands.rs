//! What the meta-commands that reach the reader do to it: includes, variables, `\c`,
//! `\restrict`, `\copy`; the ones that only print or change nothing are skipped here.

use super::*;

impl Reader {
    pub(super) fn meta(
        &mut self,
        parsed: Parsed,
        line: &str,
        loc: Loc,
    ) -> Result<Option<Item>, ReadError> {
        let command = format!("\\{}", parsed.name);
        if let Some(key) = &self.restricted {
            return match parsed.meta {
                Meta::Unrestrict(k) if &k == key => {
                    self.restricted = None;
                    Ok(Some(Item::Skipped {
                        loc,
                        command,
                        why: "the end of pg_dump's guard against meta-commands in data".into(),
                    }))
                }
                Meta::Unrestrict(_) => Err(refused(loc, "\\unrestrict: wrong key (psql fails here)")),
                _ => Err(refused(
                    loc,
                    format!(
                        "{command} after \\restrict: psql refuses every meta-command but \\unrestrict \
                         until then"
                    ),
                )),
            };
        }
        if self.partial.is_some()
            && matches!(
                parsed.meta,
                Meta::Include { .. } | Meta::Connect(_) | Meta::Copy { .. }
            )
        {
            return Err(refused(
                loc,
                format!(
                    "{command} inside an unfinished statement (before its ';') is not supported"
                ),
            ));
        }
        Ok(match parsed.meta {
            Meta::Set { name, value } => {
                self.vars.set(name, value);
                None
            }
            Meta::Unset(name) => {
                self.vars.unset(&name);
                None
            }
            Meta::Echo(text) => Some(Item::Echo(text)),
            Meta::Skip(why) => Some(Item::Skipped { loc, command, why }),
            Meta::Restrict(key) => {
                self.restricted = Some(key);
                Some(Item::Skipped {
                    loc,
                    command,
                    why: "pg_dump's guard against meta-commands in data; cruddur-db refuses any \
                          until \\unrestrict, as psql does"
                        .into(),
                })
            }
            Meta::Unrestrict(_) => {
                return Err(refused(
                    loc,
                    "\\unrestrict: not after a \\restrict (psql fails here)",
                ))
            }
            Meta::Include { path, relative } => {
                self.include(&path, relative, loc)?;
                None
            }
            Meta::Connect(args) => {
                let database = conninfo::resolve(&args, self.server.as_ref(), &self.current_db)
                    .map_err(|why| {
                        refused(loc.clone(), format!("{command} {}: {why}", args.shown()))
                    })?;
                if !self.allow_connect {
                    return Err(refused(
                        loc,
                        format!(
                            "{command} {database}: connecting to another database cannot happen inside the \
                             one transaction the file runs in; run it with --no-transaction"
                        ),
                    ));
                }
                self.current_db = database.clone();
                // A new session starts with the server's default.
                self.std_strings = true;
                Some(Item::Connect { database, loc })
            }
            Meta::Copy { sql, from } => {
                let stmt = Stmt {
                    sql,
                    written: Some(line.to_string()),
                    subs: Vec::new(),
                    loc: loc.clone(),
                };
                match from {
                    CopyFrom::Inline => {
                        self.in_copy = true;
                        let line = self.frames.last().map_or(loc.line + 1, |f| f.line);
                        Some(Item::Copy {
                            stmt,
                            data: Data::Inline { line },
                        })
                    }
                    CopyFrom::File(name) => {
                        let file = File::open(expand_home(&name)).map_err(|e| {
                            refused(loc.clone(), format!("\\copy: cannot open {name}: {e}"))
                        })?;
                        Some(Item::Copy {
                            stmt,
                            data: Data::File { name, file },
                        })
                    }
                }
            }
        })
    }

    fn include(&mut self, path: &str, relative: bool, loc: Loc) -> Result<(), ReadError> {
        let parent = self.frames.last().expect("BUG: no frame");
        let resolved = match (&parent.dir, relative) {
            (Some(dir), true) if !Path::new(path).is_absolute() => dir.join(path),
            _ => expand_home(path),
        };
        let file = File::open(&resolved).map_err(|e| {
            refused(
                loc.clone(),
                format!("cannot open included file {}: {e}", resolved.display()),
            )
        })?;
        let canon = resolved.canonicalize().ok();
        if canon.is_some() && self.frames.iter().any(|f| f.canon == canon) {
            let mut cycle: Vec<String> = self.frames.iter().map(|f| f.name.to_string()).collect();
            cycle.push(resolved.display().to_string());
            return Err(refused(
                loc,
                format!("include cycle: {}", cycle.join(" -> ")),
            ));
        }
        let mut chain = vec![format!("{}:{}", loc.file, loc.line)];
        chain.extend(parent.chain.iter().cloned());
        self.frames.push(Frame::new(
            resolved.display().to_string(),
            chain.into(),
            Some(&resolved),
            Box::new(file),
        ));
        self.includes += 1;
        Ok(())
    }
}
