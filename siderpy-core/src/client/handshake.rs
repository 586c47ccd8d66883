//! The commands a new connection sends before it is handed out.

use crate::args::CmdArgs;
use crate::connection::{quote, Connection};
use crate::error::{Error, Result};
use crate::info::{ConnectionInfo, Password, Protocol};
use crate::trace as tracing;
use crate::value::Value;

/// Sends what the settings ask for on a new connection, back to back,
/// and fails on the first error reply (siderpy lost an AUTH failure when a
/// SELECT followed it; here every reply is checked).
///
/// Each reply must also have its command's shape (`HELLO` a map, the others
/// `OK`), and a RESP2 handshake ends with a `PING` that must get `PONG`: a
/// server that sends something of its own first (a greeting) is out of step
/// with the client, and taken as replies its bytes would reach the wrong
/// callers; the connect fails instead, with [`Error::Handshake`] quoting it.
/// The `PING` is sent even when the settings ask for nothing else: a
/// greeting can arrive after the first command was written, where nothing
/// else could tell it from that command's reply. It costs one round trip
/// per connect, bounded by the connect timeout.
///
/// `readonly` is for connections to cluster replicas that serve reads.
pub(super) async fn handshake(conn: &Connection, info: &ConnectionInfo, readonly: bool) -> Result<()> {
    let mut cmds = Vec::new();
    let password = info.password.as_ref().map(Password::expose);
    if info.protocol == Protocol::Resp3 {
        let mut hello = CmdArgs::with_name("HELLO");
        hello.push("3");
        if let Some(pw) = password {
            hello.push("AUTH");
            hello.push(info.username.as_deref().unwrap_or("default"));
            hello.push(pw);
        }
        if let Some(name) = &info.client_name {
            hello.push("SETNAME");
            hello.push(name.as_str());
        }
        cmds.push(hello);
    } else {
        if let Some(pw) = password {
            let mut auth = CmdArgs::with_name("AUTH");
            if let Some(user) = &info.username {
                auth.push(user.as_str());
            }
            auth.push(pw);
            cmds.push(auth);
        }
        if let Some(name) = &info.client_name {
            let mut setname = CmdArgs::with_name("CLIENT SETNAME");
            setname.push(name.as_str());
            cmds.push(setname);
        }
    }
    if info.db != 0 {
        let mut select = CmdArgs::with_name("SELECT");
        select.push(info.db);
        cmds.push(select);
    }
    if readonly {
        // A cluster replica serves reads only to connections that ask.
        cmds.push(CmdArgs::with_name("READONLY"));
    }
    if info.protocol == Protocol::Resp2 {
        cmds.push(CmdArgs::with_name("PING"));
    }
    // A reply slot each, not one for the batch: a server refusing the
    // connection (`max number of clients reached`) answers the first command
    // and closes, and that answer is the error to report, not the close.
    let replies = cmds.iter().map(|cmd| conn.send(cmd)).collect::<Result<Vec<_>>>()?;
    for (cmd, reply) in cmds.iter().zip(replies) {
        let reply = reply.await.map_err(|_| Error::Closed("connection"))??;
        let name = cmd.name();
        let in_shape = match (&reply, name.as_str()) {
            // In step, and not this connection's problem: a client given no
            // password may still send AUTH itself.
            (Value::Error(e), "PING") if e.code() == "NOAUTH" => true,
            (Value::Error(e), _) => {
                tracing::warn!(connection = conn.id, command = %name, error = %e, "handshake command failed");
                return Err(Error::Redis(e.clone()));
            }
            (Value::Map(_), "HELLO") => true,
            (Value::Simple(s), "PING") => s.as_ref() == b"PONG",
            (Value::Simple(s), _) => name != "HELLO" && s.as_ref() == b"OK",
            _ => false,
        };
        if !in_shape {
            let err = Error::Handshake { command: name, reply: quote(&reply) };
            tracing::warn!(connection = conn.id, error = %err, "handshake out of step");
            return Err(err);
        }
    }
    Ok(())
}
