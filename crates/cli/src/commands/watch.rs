//! Watches and the configuration node: addWatch, removewatches, config.

use rzk_proto::WatcherType;

use super::{malformed, on, say, CliError, CmdResult, Ctx};
use crate::args::{flag, parse_flags, valued};
use crate::format;

/// `ZooDefs.CONFIG_NODE`.
const CONFIG_NODE: &str = "/zookeeper/config";

pub fn add_watch(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &[valued('m')]).map_err(CliError::new)?;
    if p.args.len() != 2 {
        return Err(malformed("addWatch"));
    }
    let recursive = match p.value('m').map(str::to_uppercase).as_deref() {
        None | Some("PERSISTENT_RECURSIVE") => true,
        Some("PERSISTENT") => false,
        Some(_) => return Err(malformed("addWatch")),
    };
    let path = &p.args[1];
    ctx.session.add_watch(path, recursive).map_err(on(path))
}

pub fn remove_watches(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p =
        parse_flags(words, &[flag('c'), flag('d'), flag('a'), flag('l')]).map_err(CliError::new)?;
    let path = p.arg(1).ok_or_else(|| malformed("removewatches"))?;
    let kind = if p.has('c') {
        WatcherType::Children
    } else if p.has('d') {
        WatcherType::Data
    } else {
        WatcherType::Any
    };
    // `-l` (remove locally without a server) needs no handling: rzk cli
    // reconnects before it sends anything.
    ctx.session.remove_watches(path, kind).map_err(on(path))
}

pub fn config(ctx: &mut Ctx<'_>, words: &[String]) -> CmdResult {
    let p = parse_flags(words, &[flag('s'), flag('w'), flag('c')]).map_err(CliError::new)?;
    let (data, stat) = ctx
        .session
        .get_data(CONFIG_NODE, p.has('w'))
        .map_err(on(CONFIG_NODE))?;
    let text = match data {
        Some(d) => String::from_utf8_lossy(&d).into_owned(),
        None => "null".to_string(),
    };
    if p.has('c') {
        say!(ctx.out, "{}\n", client_config(&text));
    } else {
        say!(ctx.out, "{text}\n");
    }
    if p.has('s') {
        say!(ctx.out, "{}", format::stat(&stat));
    }
    Ok(())
}

/// `ConfigUtils.getClientConfigStr`: the config version, a space, and the
/// client address of every `server.N` line, comma-separated.
fn client_config(text: &str) -> String {
    let mut version = "";
    let mut clients = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value;
        }
        if key.starts_with("server.") {
            // host:peer:election[:role];[client host:]client port
            let client = value.split_once(';').map(|(_, c)| c.trim()).unwrap_or("");
            let client = if client.contains(':') {
                client.to_string()
            } else if client.is_empty() {
                String::new()
            } else {
                format!("0.0.0.0:{client}")
            };
            clients.push(client);
        }
    }
    format!("{version} {}", clients.join(","))
}

#[cfg(test)]
mod tests {
    use super::client_config;

    #[test]
    fn client_addresses_from_the_config() {
        let cfg = "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
                   server.2=h2:2888:3888:participant;2182\nversion=100000000";
        assert_eq!(client_config(cfg), "100000000 127.0.0.1:2181,0.0.0.0:2182");
    }
}
