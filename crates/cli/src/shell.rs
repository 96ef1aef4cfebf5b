//! The shell around the commands, as zkCli's `ZooKeeperMain`: the session,
//! the numbered history (`history`, `redo`), `printwatches`, `connect`,
//! `quit`, the prompt, and the three ways to run: one command from the
//! command line, lines from a pipe, or an interactive terminal with line
//! editing and completion.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Editor, ExternalPrinter as _};

use crate::args::{split_words, Options};
use crate::commands::{self, say, CliError, CmdResult, Ctx};
use crate::complete::ZkHelper;
use crate::connection::{EventSink, Session, SessionConfig};
use crate::format::{self, WatchedEvent};

/// Lines kept for `history` and `redo` (zkCli keeps them all; `history`
/// shows the last eleven).
pub const HISTORY_LINES_MAX: usize = 1000;
/// A line longer than this is refused rather than sent.
pub const LINE_BYTES_MAX: usize = 1024 * 1024;

/// Where watch events go: the terminal's printer while line editing is on,
/// standard output otherwise.
type Printer = Box<dyn FnMut(String) + Send>;

pub struct Shell {
    session: Arc<Mutex<Session>>,
    options: Options,
    host: String,
    print_watches: Arc<AtomicBool>,
    printer: Arc<Mutex<Option<Printer>>>,
    /// Print events at all (not in one-command mode).
    events_on: Arc<AtomicBool>,
    history: BTreeMap<usize, String>,
    command_count: usize,
    exit_code: i32,
    quit: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shell {
    pub fn new(options: Options) -> Result<Shell, String> {
        let print_watches = Arc::new(AtomicBool::new(true));
        let events_on = Arc::new(AtomicBool::new(false));
        let printer: Arc<Mutex<Option<Printer>>> = Arc::new(Mutex::new(None));
        let host = options.server.clone();
        let session = Session::new(
            SessionConfig::parse(&host, options.timeout_ms, options.read_only)?,
            Self::sink(&print_watches, &events_on, &printer),
        );
        Ok(Shell {
            session: Arc::new(Mutex::new(session)),
            options,
            host,
            print_watches,
            printer,
            events_on,
            history: BTreeMap::new(),
            command_count: 0,
            exit_code: 0,
            quit: false,
        })
    }

    fn sink(
        print_watches: &Arc<AtomicBool>,
        events_on: &Arc<AtomicBool>,
        printer: &Arc<Mutex<Option<Printer>>>,
    ) -> EventSink {
        let (print_watches, events_on, printer) = (
            Arc::clone(print_watches),
            Arc::clone(events_on),
            Arc::clone(printer),
        );
        Arc::new(move |event: WatchedEvent| {
            if !events_on.load(Ordering::SeqCst) || !print_watches.load(Ordering::SeqCst) {
                return;
            }
            let text = format::watcher_lines(&event);
            match lock(&printer).as_mut() {
                Some(print) => print(text),
                None => {
                    let mut out = io::stdout().lock();
                    let _ = out.write_all(text.as_bytes());
                    let _ = out.flush();
                }
            }
        })
    }

    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    fn prompt(&self) -> String {
        let state = lock(&self.session).state();
        format!(
            "[zk: {}({}) {}] ",
            self.host,
            state.name(),
            self.command_count
        )
    }

    /// One command from the command line: its output, no banner, no events.
    pub fn run_one(&mut self, words: &[String]) -> i32 {
        self.process(words);
        lock(&self.session).close();
        self.exit_code
    }

    fn banner(&self, line_editing: bool) {
        println!("Connecting to {}", self.options.server);
        println!("Welcome to ZooKeeper!");
        if line_editing {
            println!("JLine support is enabled");
        } else {
            println!("JLine support is disabled");
        }
        self.events_on.store(true, Ordering::SeqCst);
        // A failed first connect is not fatal: the prompt says CONNECTING
        // and the next command tries again, as zkCli keeps trying.
        let _ = lock(&self.session).connect();
    }

    /// Lines from standard input, no line editing (a pipe or a file).
    pub fn run_piped(&mut self) -> i32 {
        self.banner(false);
        let stdin = io::stdin();
        let mut reader = stdin.lock();
        let mut line = String::new();
        while !self.quit {
            line.clear();
            match io::Read::take(&mut reader, LINE_BYTES_MAX as u64 + 1).read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if line.len() > LINE_BYTES_MAX {
                eprintln!("line longer than {LINE_BYTES_MAX} bytes refused");
                self.exit_code = 1;
                break;
            }
            self.execute_line(line.trim_end_matches(['\n', '\r']));
        }
        self.finish()
    }

    /// The interactive shell: prompt, line editing, history, completion.
    pub fn run_interactive(&mut self) -> i32 {
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .auto_add_history(true)
            .max_history_size(HISTORY_LINES_MAX)
            .map(|b| b.build());
        let editor = config.and_then(Editor::<ZkHelper, DefaultHistory>::with_config);
        let mut editor = match editor {
            Ok(e) => e,
            Err(_) => return self.run_piped(),
        };
        editor.set_helper(Some(ZkHelper {
            session: Arc::clone(&self.session),
        }));
        if let Ok(mut p) = editor.create_external_printer() {
            *lock(&self.printer) = Some(Box::new(move |text: String| {
                let _ = p.print(text);
            }));
        }
        self.banner(true);
        while !self.quit {
            match editor.readline(&self.prompt()) {
                Ok(line) => self.execute_line(&line),
                Err(ReadlineError::Interrupted) => continue,
                Err(_) => break,
            }
        }
        *lock(&self.printer) = None;
        self.finish()
    }

    fn finish(&mut self) -> i32 {
        self.events_on.store(false, Ordering::SeqCst);
        lock(&self.session).close();
        self.exit_code
    }

    /// zkCli's `executeLine`: number the line, run it.
    pub fn execute_line(&mut self, line: &str) {
        let words = split_words(line);
        if words.is_empty() {
            return;
        }
        self.history.insert(self.command_count, line.to_string());
        if self.history.len() > HISTORY_LINES_MAX {
            self.history.pop_first();
        }
        self.process(&words);
        self.command_count += 1;
    }

    /// zkCli's `processCmd`: run, print a failure on stderr, keep its code.
    fn process(&mut self, words: &[String]) {
        match self.process_command(words) {
            Ok(()) => self.exit_code = 0,
            Err(e) => {
                self.exit_code = e.exit_code;
                eprintln!("{}", e.message);
            }
        }
        let _ = io::stdout().flush();
    }

    fn process_command(&mut self, words: &[String]) -> CmdResult {
        let Some(name) = words.first() else {
            eprint!("{}", commands::usage());
            return Err(CliError::new("No command entered"));
        };
        let Some(command) = commands::find(name) else {
            eprint!("{}", commands::usage());
            // zkCli's message, doubled words and all.
            return Err(CliError {
                message: format!("Command not found: Command not found {name}"),
                exit_code: 127,
            });
        };
        match name.as_str() {
            "quit" => {
                lock(&self.session).close();
                self.quit = true;
                return Ok(());
            }
            "redo" if words.len() >= 2 => return self.redo(&words[1]),
            "history" => self.print_history(),
            "printwatches" => match words.get(1) {
                None => println!(
                    "printwatches is {}",
                    if self.print_watches.load(Ordering::SeqCst) {
                        "on"
                    } else {
                        "off"
                    }
                ),
                Some(v) => self.print_watches.store(v == "on", Ordering::SeqCst),
            },
            "connect" => {
                let host = words.get(1).cloned().unwrap_or_else(|| self.host.clone());
                self.connect(&host)?;
            }
            _ => {}
        }
        let mut session = lock(&self.session);
        if !session.state().is_alive() {
            println!("Not connected");
            return Ok(());
        }
        let Some(handler) = command.handler else {
            return Ok(());
        };
        let (mut out, mut err) = (io::stdout(), io::stderr());
        let mut ctx = Ctx {
            session: &mut session,
            out: &mut out,
            err: &mut err,
        };
        handler(&mut ctx, words)
    }

    fn redo(&mut self, index: &str) -> CmdResult {
        let parsed = match index.strip_prefix("0x").or_else(|| index.strip_prefix('#')) {
            Some(hex) => i64::from_str_radix(hex, 16),
            None => index.parse::<i64>(),
        };
        let i = parsed.map_err(|_| CliError::new(format!("For input string: \"{index}\"")))?;
        if i < 0 || i as u64 >= self.command_count as u64 {
            return Err(CliError::new("Command index out of range"));
        }
        let Some(line) = self.history.get(&(i as usize)).cloned() else {
            return Err(CliError::new("Command index out of range"));
        };
        let words = split_words(&line);
        if words.first().map(String::as_str) == Some("redo") {
            return Err(CliError::new("No redoing redos"));
        }
        self.history.insert(self.command_count, line);
        self.process(&words);
        Ok(())
    }

    fn print_history(&self) {
        let from = self.command_count.saturating_sub(10);
        let mut out = io::stdout().lock();
        for i in from..=self.command_count {
            match self.history.get(&i) {
                Some(line) => say!(out, "{i} - {line}\n"),
                None => say!(out, "{i} - null\n"),
            }
        }
    }

    /// `connect host:port`: closes the current session, opens a new one.
    fn connect(&mut self, host: &str) -> CmdResult {
        let config = SessionConfig::parse(host, self.options.timeout_ms, self.options.read_only)
            .map_err(CliError::new)?;
        let mut session = lock(&self.session);
        session.close();
        *session = Session::new(
            config,
            Self::sink(&self.print_watches, &self.events_on, &self.printer),
        );
        self.host = host.to_string();
        let _ = session.connect();
        Ok(())
    }
}
