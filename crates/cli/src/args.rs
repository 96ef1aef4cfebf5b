//! Parsing, as zkCli does it: the program's own options (`-server`,
//! `-timeout`, `-r`, then an optional command), the words of a shell line
//! (zkCli's quoting rules), and each command's flags (commons-cli's
//! `DefaultParser` behaviour: flags anywhere, `-v 3` or `-v3`, `-sw` for
//! `-s -w`, an unknown flag is an error).

use std::collections::BTreeMap;

/// zkCli's default server.
pub const DEFAULT_SERVER: &str = "localhost:2181";
/// zkCli's default session timeout.
pub const DEFAULT_TIMEOUT_MS: i32 = 30_000;

/// The options before the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `host:port[,host:port...]`.
    pub server: String,
    pub timeout_ms: i32,
    /// `-r`: ask for a read-only session.
    pub read_only: bool,
    /// The command and its arguments; empty for the interactive shell.
    pub command: Vec<String>,
}

/// Parses the arguments after `rzk cli`. As zkCli, options it does not know
/// are skipped and the first word not starting with `-` starts the command.
pub fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        server: DEFAULT_SERVER.to_string(),
        timeout_ms: DEFAULT_TIMEOUT_MS,
        read_only: false,
        command: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("Error: no argument found for option {opt}"))
        };
        match opt.as_str() {
            "-server" => options.server = value()?,
            "-timeout" => {
                let v = value()?;
                options.timeout_ms = v
                    .parse()
                    .map_err(|_| format!("Error: -timeout takes milliseconds, not {v:?}"))?;
            }
            "-r" => options.read_only = true,
            // Accepted for compatibility; rzk cli has no client properties.
            "-client-configuration" => {
                value()?;
            }
            _ if !opt.starts_with('-') => {
                options.command.push(opt.clone());
                options.command.extend(it.cloned());
                break;
            }
            _ => {}
        }
    }
    Ok(options)
}

/// Splits a shell line into words as zkCli does: words are separated by
/// white space; a word starting with `"` or `'` runs to the same quote and
/// loses its quotes; a quote with no partner is dropped.
pub fn split_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            match chars[i + 1..].iter().position(|&d| d == c) {
                Some(len) => {
                    words.push(chars[i + 1..i + 1 + len].iter().collect());
                    i += len + 2;
                }
                None => i += 1,
            }
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            words.push(chars[start..i].iter().collect());
        }
    }
    words
}

/// One flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub name: char,
    pub takes_value: bool,
}

/// `Flag` shorthands for the command tables.
pub const fn flag(name: char) -> Flag {
    Flag {
        name,
        takes_value: false,
    }
}

pub const fn valued(name: char) -> Flag {
    Flag {
        name,
        takes_value: true,
    }
}

/// A command line split into flags and positional words (the command's name
/// is the first positional word, as in zkCli's `cl.getArgs()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    flags: BTreeMap<char, Option<String>>,
    pub args: Vec<String>,
}

impl Parsed {
    pub fn has(&self, name: char) -> bool {
        self.flags.contains_key(&name)
    }

    pub fn value(&self, name: char) -> Option<&str> {
        self.flags.get(&name).and_then(|v| v.as_deref())
    }

    /// Sets a flag without a value (zkCli's rewrite of `get path watch`).
    pub fn set_flag(&mut self, name: char) {
        self.flags.insert(name, None);
    }

    /// The positional word at `index` (0 is the command name).
    pub fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(String::as_str)
    }
}

/// Parses `words` against the flags a command accepts. The error text is
/// what zkCli prints for commons-cli's exceptions.
pub fn parse_flags(words: &[String], flags: &[Flag]) -> Result<Parsed, String> {
    let find = |c: char| flags.iter().find(|f| f.name == c);
    let mut parsed = Parsed::default();
    let mut it = words.iter();
    while let Some(word) = it.next() {
        if word == "--" {
            parsed.args.extend(it.by_ref().cloned());
            break;
        }
        let Some(body) = word.strip_prefix('-').filter(|b| !b.is_empty()) else {
            parsed.args.push(word.clone());
            continue;
        };
        let mut chars = body.chars();
        let first = chars.next().unwrap_or_default();
        match find(first) {
            Some(f) if f.takes_value => {
                let rest: String = chars.collect();
                let value = if rest.is_empty() {
                    it.next().cloned().ok_or_else(|| {
                        format!(
                            "org.apache.commons.cli.MissingArgumentException: \
                             Missing argument for option: {first}"
                        )
                    })?
                } else {
                    rest
                };
                parsed.flags.insert(first, Some(value));
            }
            _ if body
                .chars()
                .all(|c| find(c).is_some_and(|f| !f.takes_value)) =>
            {
                for c in body.chars() {
                    parsed.flags.insert(c, None);
                }
            }
            _ => {
                return Err(format!(
                    "org.apache.commons.cli.UnrecognizedOptionException: \
                     Unrecognized option: {word}"
                ))
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn options_then_command() {
        let o = parse_options(&strings(&[
            "-server", "h:1", "-timeout", "5000", "-r", "get", "-s", "/x",
        ]))
        .unwrap();
        assert_eq!(o.server, "h:1");
        assert_eq!(o.timeout_ms, 5000);
        assert!(o.read_only);
        assert_eq!(o.command, strings(&["get", "-s", "/x"]));
        let o = parse_options(&[]).unwrap();
        assert_eq!(o.server, DEFAULT_SERVER);
        assert!(o.command.is_empty());
        assert!(parse_options(&strings(&["-server"])).is_err());
    }

    #[test]
    fn words_follow_zkcli_quoting() {
        assert_eq!(
            split_words("  create /x \"hello world\" 'a b'  "),
            strings(&["create", "/x", "hello world", "a b"])
        );
        assert_eq!(split_words("set /x \"\""), strings(&["set", "/x", ""]));
        assert_eq!(
            split_words("set /x \"open"),
            strings(&["set", "/x", "open"])
        );
        assert_eq!(split_words("a\"b c\""), strings(&["a\"b", "c\""]));
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn flags_anywhere_with_values() {
        let spec = [flag('s'), flag('w'), valued('v')];
        let p = parse_flags(&strings(&["set", "-s", "/x", "-v3", "d"]), &spec).unwrap();
        assert!(p.has('s'));
        assert_eq!(p.value('v'), Some("3"));
        assert_eq!(p.args, strings(&["set", "/x", "d"]));
        let p = parse_flags(&strings(&["get", "-sw", "/x"]), &spec).unwrap();
        assert!(p.has('s') && p.has('w'));
        let e = parse_flags(&strings(&["get", "-x", "/x"]), &spec).unwrap_err();
        assert!(e.ends_with("Unrecognized option: -x"), "{e}");
        let e = parse_flags(&strings(&["set", "/x", "-v"]), &spec).unwrap_err();
        assert!(e.ends_with("Missing argument for option: v"), "{e}");
        let p = parse_flags(&strings(&["set", "/x", "-"]), &spec).unwrap();
        assert_eq!(p.arg(2), Some("-"));
    }
}
