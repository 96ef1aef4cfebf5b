//! The admin server: ZooKeeper's AdminServer contract over HTTP
//! (`admin.enableServer`, `admin.serverAddress`, `admin.serverPort`,
//! `admin.commandURL`), plus `/ready` for orchestrators.
//!
//! Routes, as ZooKeeper 3.8's Jetty servlet answers them:
//! - `GET <commandURL>` (or with a trailing `/`): an HTML list of links, one
//!   per command, by primary name.
//! - `GET <commandURL>/<name>`: the command's JSON (see
//!   [`crate::admin_commands`]). An unknown name is answered 200 with
//!   `{"command": name, "error": "Unknown command: name"}`, and a command
//!   that needs a serving server, while this one is not, with ZooKeeper's
//!   "not currently serving" error: ZooKeeper 3.8 and 3.9 both answer these
//!   with 200 (its comment: "to keep the current behavior of existing
//!   commands"), and monitoring scripts look at the `error` field.
//! - `GET <commandURL>/log_level` (rzk's own): the log level and format;
//!   with `?level=<filter>` it sets the level first (see
//!   [`crate::logging`]) and answers `level` (new) and `previous`. A bad
//!   filter changes nothing and is answered in `error`.
//! - `GET /ready` (rzk's own): 200 while the server serves clients, 503
//!   otherwise (no leader yet, still catching up, or read-only), so an
//!   orchestrator routes clients only to servers that take writes.
//! - Anything else: 404, as Jetty answers outside the servlet's path.

use crate::admin_commands::{self, Fields};
use crate::http::{Handler, Request, Response};
use crate::shared::Shared;
use serde_json::{json, Value as Json};
use std::sync::Arc;

const JSON: &str = "application/json";

/// ZooKeeper's error for commands asked of a server that does not serve.
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The request handler for the admin port.
pub fn handler(shared: Arc<Shared>) -> Handler {
    Arc::new(move |request: &Request| route(&shared, request))
}

/// Answers one request.
pub fn route(shared: &Shared, request: &Request) -> Response {
    let path = request.path.as_str();
    if path == "/ready" {
        return ready(shared);
    }
    let base = shared.config.admin.command_url.trim_end_matches('/');
    let Some(rest) = path.strip_prefix(base) else {
        return Response::error(404);
    };
    match rest {
        "" | "/" => Response::new(200, "text/html; charset=utf-8", links(base)),
        _ => match rest.strip_prefix('/') {
            Some("log_level") => match request.query_param("level") {
                Some(level) => json_response(set_log_level(&level)),
                None => command(shared, "log_level"),
            },
            Some(name) => command(shared, name),
            // `/commandsfoo`: not under the command URL.
            None => Response::error(404),
        },
    }
}

/// ZooKeeper's command list: a link per primary name, sorted.
fn links(base: &str) -> String {
    let mut out = String::new();
    for command in admin_commands::COMMANDS {
        let name = command.primary();
        out.push_str(&format!("<a href=\"{base}/{name}\">{name}</a>\n<br/>\n"));
    }
    out
}

/// Runs command `name` and renders its JSON.
pub fn command(shared: &Shared, name: &str) -> Response {
    json_response(command_json(shared, name))
}

/// `log_level?level=...`: sets the level, logging who asked for what.
fn set_log_level(level: &str) -> Json {
    match crate::logging::set_level(level) {
        Ok(previous) => {
            tracing::info!(
                "Log level set to {level:?} (was {previous:?}) through the admin server"
            );
            let mut fields = admin_commands::log_level_fields();
            fields.insert("previous".to_string(), json!(previous));
            finish(fields, "log_level", None)
        }
        Err(e) => {
            tracing::warn!("Log level not changed through the admin server: {e}");
            finish(admin_commands::log_level_fields(), "log_level", Some(e))
        }
    }
}

fn json_response(body: Json) -> Response {
    let text = serde_json::to_string_pretty(&body).unwrap_or_else(|_| "{}".to_string());
    Response::new(200, JSON, text)
}

/// The JSON object answering `name`, with `command` and `error` last.
pub fn command_json(shared: &Shared, name: &str) -> Json {
    let Some(command) = admin_commands::find(name) else {
        return finish(
            Fields::new(),
            name,
            Some(format!("Unknown command: {name}")),
        );
    };
    let serving = shared.is_serving() || shared.is_read_only();
    if command.server_required && !serving {
        return finish(Fields::new(), name, Some(NOT_SERVING.to_string()));
    }
    finish((command.run)(shared), command.primary(), None)
}

/// Appends `command` and `error` as ZooKeeper's `CommandResponse.toMap`
/// does; an `error` the command set itself stays where it is.
fn finish(mut fields: Fields, name: &str, error: Option<String>) -> Json {
    fields.insert("command".to_string(), json!(name));
    if !fields.contains_key("error") {
        fields.insert("error".to_string(), json!(error));
    }
    Json::Object(fields)
}

fn ready(shared: &Shared) -> Response {
    let serving = shared.is_serving();
    let body = json!({"ready": serving, "server_state": shared.server_state()});
    Response::new(if serving { 200 } else { 503 }, JSON, body.to_string())
}
