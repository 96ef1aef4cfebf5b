//! The client API the commands use, one method per request, with the Java
//! client's behaviour around it: paths are checked before anything is sent
//! (the same messages as `PathUtils.validatePath`), accepted watches are
//! recorded, and `create` without data sends a null buffer as zkCli does.

use rzk_proto::jute;
use rzk_proto::records::{
    AddWatchRequest, ClientInfo, DeleteRequest, ExistsRequest, GetAclRequest,
    GetAllChildrenNumberRequest, GetChildrenRequest, GetDataRequest, GetEphemeralsRequest,
    RequestHeader, SetAclRequest, SetDataRequest, SyncRequest, WatchesRequest,
};
use rzk_proto::request::MultiOp;
use rzk_proto::{
    Acl, CreateMode, Decode, Encode, ErrorCode, OpCode, Reader, Request, Response, Stat,
    WatcherType,
};

use crate::connection::Session;
use crate::watches::WatchKind;

/// Why a call failed: a ZooKeeper error code, or a path the client refuses
/// to send (the message of Java's `IllegalArgumentException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    Keeper(ErrorCode),
    BadPath(String),
}

impl From<ErrorCode> for OpError {
    fn from(code: ErrorCode) -> Self {
        OpError::Keeper(code)
    }
}

pub type OpResult<T> = Result<T, OpError>;

/// `PathUtils.validatePath`; a sequential create's path is checked with a
/// digit appended, as the Java client does.
pub fn validate_path(path: &str, sequential: bool) -> Result<(), String> {
    let checked;
    let path = if sequential {
        checked = format!("{path}1");
        checked.as_str()
    } else {
        path
    };
    if path.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character".into());
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character".into());
    }
    let chars: Vec<char> = path.chars().collect();
    let next_is_end_or_slash = |i: usize| i + 1 == chars.len() || chars[i + 1] == '/';
    for i in 1..chars.len() {
        let (c, last) = (chars[i], chars[i - 1]);
        let reason = if c == '\0' {
            Some(format!("null character not allowed @{i}"))
        } else if c == '/' && last == '/' {
            Some(format!("empty node name specified @{i}"))
        } else if c == '.' {
            // `/..` or `/.` as a whole component.
            let dots = if last == '.' {
                i >= 2 && chars[i - 2] == '/'
            } else {
                last == '/'
            };
            (dots && next_is_end_or_slash(i)).then(|| format!("relative paths not allowed @{i}"))
        } else if matches!(c, '\u{1}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..='\u{ffff}')
            || u32::from(c) > 0xffff
        {
            Some(format!("invalid character @{i}"))
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(format!("Invalid path string \"{path}\" caused by {reason}"));
        }
    }
    Ok(())
}

fn check(path: &str) -> OpResult<()> {
    validate_path(path, false).map_err(OpError::BadPath)
}

fn decode<T: Decode>(body: &[u8]) -> OpResult<T> {
    T::decode(&mut Reader::new(body)).map_err(|_| OpError::Keeper(ErrorCode::MarshallingError))
}

fn response(op: OpCode, body: &[u8]) -> OpResult<Response> {
    Response::decode(op, body).map_err(|_| OpError::Keeper(ErrorCode::MarshallingError))
}

impl Session {
    /// create / createContainer / createTTL; returns the created path.
    pub fn create(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: Option<i64>,
    ) -> OpResult<String> {
        validate_path(path, mode.is_sequential()).map_err(OpError::BadPath)?;
        let op = if ttl_ms.is_some() {
            OpCode::CreateTtl
        } else if mode.is_container() {
            OpCode::CreateContainer
        } else {
            OpCode::Create
        };
        let body = self.call_encoded(|xid, out| {
            RequestHeader { xid, op: op.code() }.encode(out);
            jute::write_string(out, path);
            jute::write_buffer_opt(out, data);
            jute::write_vec(out, acl);
            jute::write_i32(out, mode.code());
            if let Some(ttl) = ttl_ms {
                jute::write_i64(out, ttl);
            }
        })?;
        // create answers a path; createContainer and createTTL a path and a
        // Stat. The path comes first either way.
        Reader::new(&body)
            .read_string()
            .map_err(|_| OpError::Keeper(ErrorCode::MarshallingError))
    }

    pub fn delete(&mut self, path: &str, version: i32) -> OpResult<()> {
        check(path)?;
        let req = DeleteRequest {
            path: path.into(),
            version,
        };
        self.call(OpCode::Delete, Request::Delete(req))?;
        Ok(())
    }

    /// `exists`: `None` when the node does not exist (a watch is still set).
    pub fn exists(&mut self, path: &str, watch: bool) -> OpResult<Option<Stat>> {
        check(path)?;
        let req = ExistsRequest {
            path: path.into(),
            watch,
        };
        match self.call(OpCode::Exists, Request::Exists(req)) {
            Ok(body) => {
                if watch {
                    self.watch(WatchKind::Data, path);
                }
                Ok(Some(decode::<Stat>(&body)?))
            }
            Err(ErrorCode::NoNode) => {
                if watch {
                    self.watch(WatchKind::Exist, path);
                }
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `getData`; the data is `None` when the server sent a null buffer.
    pub fn get_data(&mut self, path: &str, watch: bool) -> OpResult<(Option<Vec<u8>>, Stat)> {
        check(path)?;
        let req = GetDataRequest {
            path: path.into(),
            watch,
        };
        let body = self.call(OpCode::GetData, Request::GetData(req))?;
        if watch {
            self.watch(WatchKind::Data, path);
        }
        let mut r = Reader::new(&body);
        let bad = |_| OpError::Keeper(ErrorCode::MarshallingError);
        let data = r.read_buffer_opt().map_err(bad)?;
        let stat = Stat::decode(&mut r).map_err(bad)?;
        Ok((data, stat))
    }

    pub fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> OpResult<Stat> {
        check(path)?;
        let req = SetDataRequest {
            path: path.into(),
            data: data.to_vec(),
            version,
        };
        let body = self.call(OpCode::SetData, Request::SetData(req))?;
        decode(&body)
    }

    pub fn get_acl(&mut self, path: &str) -> OpResult<(Vec<Acl>, Stat)> {
        check(path)?;
        let body = self.call(
            OpCode::GetAcl,
            Request::GetAcl(GetAclRequest { path: path.into() }),
        )?;
        match response(OpCode::GetAcl, &body)? {
            Response::Acl { acl, stat } => Ok((acl, stat)),
            _ => Err(OpError::Keeper(ErrorCode::MarshallingError)),
        }
    }

    pub fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> OpResult<Stat> {
        check(path)?;
        let req = SetAclRequest {
            path: path.into(),
            acl: acl.to_vec(),
            version,
        };
        let body = self.call(OpCode::SetAcl, Request::SetAcl(req))?;
        decode(&body)
    }

    /// getChildren (with a Stat: getChildren2).
    pub fn get_children(
        &mut self,
        path: &str,
        watch: bool,
        with_stat: bool,
    ) -> OpResult<(Vec<String>, Option<Stat>)> {
        check(path)?;
        let op = if with_stat {
            OpCode::GetChildren2
        } else {
            OpCode::GetChildren
        };
        let req = GetChildrenRequest {
            path: path.into(),
            watch,
        };
        let body = self.call(op, Request::GetChildren(req))?;
        if watch {
            self.watch(WatchKind::Child, path);
        }
        match response(op, &body)? {
            Response::Children(children) => Ok((children, None)),
            Response::Children2 { children, stat } => Ok((children, Some(stat))),
            _ => Err(OpError::Keeper(ErrorCode::MarshallingError)),
        }
    }

    pub fn sync(&mut self, path: &str) -> OpResult<()> {
        check(path)?;
        self.call(
            OpCode::Sync,
            Request::Sync(SyncRequest { path: path.into() }),
        )?;
        Ok(())
    }

    /// `multi` of deletes; Ok when every operation succeeded.
    pub fn multi(&mut self, ops: Vec<MultiOp>) -> OpResult<()> {
        let body = self.call(OpCode::Multi, Request::Multi(ops))?;
        match response(OpCode::Multi, &body)? {
            Response::Multi(results) => {
                let failed = results.iter().find_map(|r| match r {
                    rzk_proto::MultiResult::Error(e) if *e != ErrorCode::Ok => Some(*e),
                    _ => None,
                });
                match failed {
                    Some(e) => Err(e.into()),
                    None => Ok(()),
                }
            }
            _ => Err(OpError::Keeper(ErrorCode::MarshallingError)),
        }
    }

    pub fn get_ephemerals(&mut self, prefix: &str) -> OpResult<Vec<String>> {
        check(prefix)?;
        let req = GetEphemeralsRequest {
            prefix_path: prefix.into(),
        };
        let body = self.call(OpCode::GetEphemerals, Request::GetEphemerals(req))?;
        let mut r = Reader::new(&body);
        r.read_vec()
            .map_err(|_| OpError::Keeper(ErrorCode::MarshallingError))
    }

    pub fn all_children_number(&mut self, path: &str) -> OpResult<i32> {
        check(path)?;
        let req = GetAllChildrenNumberRequest { path: path.into() };
        let body = self.call(
            OpCode::GetAllChildrenNumber,
            Request::GetAllChildrenNumber(req),
        )?;
        Reader::new(&body)
            .read_i32()
            .map_err(|_| OpError::Keeper(ErrorCode::MarshallingError))
    }

    pub fn who_am_i(&mut self) -> OpResult<Vec<ClientInfo>> {
        let body = self.call(OpCode::WhoAmI, Request::WhoAmI)?;
        Reader::new(&body)
            .read_vec()
            .map_err(|_| OpError::Keeper(ErrorCode::MarshallingError))
    }

    /// addWatch; `recursive` selects PERSISTENT_RECURSIVE.
    pub fn add_watch(&mut self, path: &str, recursive: bool) -> OpResult<()> {
        check(path)?;
        let req = AddWatchRequest {
            path: path.into(),
            mode: i32::from(recursive),
        };
        self.call(OpCode::AddWatch, Request::AddWatch(req))?;
        let kind = if recursive {
            WatchKind::PersistentRecursive
        } else {
            WatchKind::Persistent
        };
        self.watch(kind, path);
        Ok(())
    }

    pub fn remove_watches(&mut self, path: &str, kind: WatcherType) -> OpResult<()> {
        check(path)?;
        let req = WatchesRequest {
            path: path.into(),
            watcher_type: kind.code(),
        };
        self.call(OpCode::RemoveWatches, Request::RemoveWatches(req))?;
        self.watches_removed(kind, path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::validate_path;

    #[test]
    fn paths_checked_as_pathutils() {
        assert!(validate_path("/", false).is_ok());
        assert!(validate_path("/a/b", false).is_ok());
        assert!(validate_path("/a/", true).is_ok());
        assert_eq!(
            validate_path("a", false).unwrap_err(),
            "Path must start with / character"
        );
        assert_eq!(
            validate_path("/a/", false).unwrap_err(),
            "Path must not end with / character"
        );
        assert_eq!(
            validate_path("/a//b", false).unwrap_err(),
            "Invalid path string \"/a//b\" caused by empty node name specified @3"
        );
        assert_eq!(
            validate_path("/a/../b", false).unwrap_err(),
            "Invalid path string \"/a/../b\" caused by relative paths not allowed @4"
        );
        assert!(validate_path("/a..b", false).is_ok());
    }

    /// `.` and `..` components, with what ZooKeeper 3.8.0's
    /// `PathUtils.validatePath(path, sequential)` answers for each.
    #[test]
    fn dot_components_as_pathutils() {
        let cases: &[(&str, bool, Option<usize>)] = &[
            ("/.", false, Some(1)),
            ("/.", true, None),
            ("/..", false, Some(2)),
            ("/..", true, None),
            ("/...", false, None),
            ("/.a", false, None),
            ("/a.", false, None),
            ("/a..", false, None),
            ("/..a", false, None),
            ("/a/.", false, Some(3)),
            ("/a/.", true, None),
            ("/a/..", false, Some(4)),
            ("/a/./b", false, Some(3)),
            ("/a/./b", true, Some(3)),
            ("/a/../b", true, Some(4)),
            ("/a/.../b", false, None),
            ("/.b/..", false, Some(5)),
            ("/.b/..", true, None),
        ];
        for &(path, sequential, at) in cases {
            let got = validate_path(path, sequential);
            match at {
                None => assert!(got.is_ok(), "{path} {sequential}: {got:?}"),
                Some(i) => {
                    let checked = if sequential {
                        format!("{path}1")
                    } else {
                        path.to_string()
                    };
                    assert_eq!(
                        got.unwrap_err(),
                        format!(
                            "Invalid path string \"{checked}\" caused by relative paths not allowed @{i}"
                        ),
                        "{path} {sequential}"
                    );
                }
            }
        }
    }
}
