//! zkCli's commands: one table of names and usage strings, and one function
//! per command that parses its flags, makes its calls and prints what zkCli
//! prints. Output goes to the context's `out`, messages zkCli writes to
//! standard error (`Created /x`, warnings) to `err`; a failure is a
//! [`CliError`] the shell prints on standard error.

mod acl;
mod nodes;
mod quota;
mod watch;

use std::io::Write;

use crate::connection::Session;
use crate::format;
use crate::ops::OpError;

/// A failed command: the message zkCli prints and the exit code it exits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub exit_code: i32,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            exit_code: 1,
        }
    }
}

pub type CmdResult = Result<(), CliError>;

/// What a command works with.
pub struct Ctx<'a> {
    pub session: &'a mut Session,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// Turns a failed call on `path` into zkCli's message for it.
pub fn on(path: &str) -> impl Fn(OpError) -> CliError + '_ {
    move |e| match e {
        OpError::Keeper(code) => CliError::new(format::error_message(code, path)),
        OpError::BadPath(message) => CliError::new(message),
    }
}

/// Writes to a command's output; a broken pipe is not the command's failure.
macro_rules! say {
    ($w:expr, $($arg:tt)*) => {{
        let _ = std::io::Write::write_fmt(&mut $w, format_args!($($arg)*));
    }};
}
pub(crate) use say;

type Handler = fn(&mut Ctx<'_>, &[String]) -> CmdResult;

/// A command of the table: its name, zkCli's option string, and its
/// handler (`None` for the shell's own commands, run by `shell.rs`).
pub struct Command {
    pub name: &'static str,
    pub usage: &'static str,
    pub handler: Option<Handler>,
}

const fn cmd(name: &'static str, usage: &'static str, handler: Handler) -> Command {
    Command {
        name,
        usage,
        handler: Some(handler),
    }
}

const fn shell_cmd(name: &'static str, usage: &'static str) -> Command {
    Command {
        name,
        usage,
        handler: None,
    }
}

/// Every command, sorted by name as zkCli's usage lists them.
pub static COMMANDS: &[Command] = &[
    cmd("addWatch", "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", watch::add_watch),
    cmd("addauth", "scheme auth", acl::add_auth),
    cmd("close", "", nodes::close),
    cmd("config", "[-c] [-w] [-s]", watch::config),
    shell_cmd("connect", "host:port"),
    cmd("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]", nodes::create),
    cmd("delete", "[-v version] path", nodes::delete),
    cmd("deleteall", "path [-b batch size]", nodes::delete_all),
    cmd("delquota", "[-n|-b|-N|-B] path", quota::del_quota),
    cmd("get", "[-s] [-w] path", nodes::get),
    cmd("getAcl", "[-s] path", acl::get_acl),
    cmd("getAllChildrenNumber", "path", nodes::all_children_number),
    cmd("getEphemerals", "path", nodes::get_ephemerals),
    shell_cmd("history", ""),
    cmd("listquota", "path", quota::list_quota),
    cmd("ls", "[-s] [-w] [-R] path", nodes::ls),
    cmd("ls2", "path [watch]", nodes::ls2),
    shell_cmd("printwatches", "on|off"),
    shell_cmd("quit", ""),
    shell_cmd("redo", "cmdno"),
    cmd("removewatches", "path [-c|-d|-a] [-l]", watch::remove_watches),
    cmd("set", "[-s] [-v version] path data", nodes::set),
    cmd("setAcl", "[-s] [-v version] [-R] path acl", acl::set_acl),
    cmd("setquota", "-n|-b|-N|-B val path", quota::set_quota),
    cmd("stat", "[-w] path", nodes::stat),
    cmd("sync", "path", nodes::sync),
    cmd("version", "", nodes::version),
    cmd("whoami", "", acl::who_am_i),
];

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// `name usage`, as in a malformed command's message.
pub fn usage_of(name: &str) -> String {
    match find(name) {
        Some(c) => format!("{} {}", c.name, c.usage),
        None => name.to_string(),
    }
}

/// zkCli's `usage()`: printed on standard error before "Command not found".
pub fn usage() -> String {
    let mut text = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for c in COMMANDS {
        text.push_str(&format!("\t{} {}\n", c.name, c.usage));
    }
    text
}

/// A usage error for `name` (zkCli's `CliParseException(getUsageStr())`).
pub fn malformed(name: &str) -> CliError {
    CliError::new(usage_of(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_as_zkcli_lists_it() {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(usage_of("get"), "get [-s] [-w] path");
    }
}
