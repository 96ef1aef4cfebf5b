//! `rzk cli`: a shell for ZooKeeper-protocol servers that behaves like
//! Apache ZooKeeper's `zkCli.sh` (same commands, flags, output and error
//! messages), without Java.
//!
//! `rzk cli [-server host:port[,host:port...]] [-timeout ms] [-r] [command args...]`
//! runs one command and exits with its status, or reads commands (from a
//! terminal with line editing, history and completion, or line by line
//! from a pipe). `rzk cli 4lw host:port word` prints a four-letter word's
//! answer.
//!
//! Modules, one job each:
//! - [`args`]: the program's options, shell-line words, command flags.
//! - [`connection`]: a session over TCP with reader and pinger threads,
//!   reconnect with session resumption, watch and auth restore.
//! - [`ops`]: one method per request, with the Java client's path checks.
//! - [`watches`]: the watches this client holds.
//! - [`commands`]: zkCli's commands and their output.
//! - [`format`]: Stat, date, ACL, event and error text as zkCli prints it.
//! - [`quota`]: `StatsTrack` and the quota node paths.
//! - [`shell`]: history, redo, the prompt and the three ways to run.
//! - [`complete`]: tab completion of command names and znode paths.
//! - [`fourlw`]: four-letter words.

pub mod args;
pub mod commands;
pub mod complete;
pub mod connection;
pub mod format;
pub mod fourlw;
pub mod ops;
pub mod quota;
pub mod shell;
pub mod watches;

use std::io::IsTerminal;

/// Runs `rzk cli` with the arguments after `cli`; returns the exit code.
pub fn main(args: &[String]) -> i32 {
    if args.first().map(String::as_str) == Some("4lw") {
        return four_letter_word(&args[1..]);
    }
    let options = match args::parse_options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if options.command.first().map(String::as_str) == Some("4lw") {
        // `-server h:p 4lw word` asks the first server; `4lw h:p word` says whom.
        let mut rest = options.command[1..].to_vec();
        if rest.len() == 1 {
            let server = options.server.split(',').next().unwrap_or_default();
            rest.insert(0, server.to_string());
        }
        return four_letter_word(&rest);
    }
    let command = options.command.clone();
    let mut shell = match shell::Shell::new(options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if !command.is_empty() {
        shell.run_one(&command)
    } else if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        shell.run_interactive()
    } else {
        shell.run_piped()
    }
}

/// `4lw host:port word`.
fn four_letter_word(args: &[String]) -> i32 {
    let [addr, word] = args else {
        eprintln!("usage: rzk cli 4lw host:port word (ruok, srvr, stat, mntr, conf, ...)");
        return 2;
    };
    match fourlw::ask(addr, word) {
        Ok(answer) => {
            print!("{answer}");
            if !answer.is_empty() && !answer.ends_with('\n') {
                println!();
            }
            0
        }
        Err(e) => {
            eprintln!("{addr}: {e}");
            1
        }
    }
}
