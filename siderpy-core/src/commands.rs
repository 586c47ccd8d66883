//! The typed command API.
//!
//! PLACEHOLDER written by hand in the exact shape `siderpy-macros` must
//! generate for every entry of `commands.json`; it is replaced by
//! `siderpy_macros::commands!("../commands.json");`.

use crate::__private::*;

/// Typed methods for every command that needs no connection state.
///
/// Implemented for every [`Executor`]: `&Redis`, `&mut Pipeline`, `&RedisPool`.
pub trait Commands: Executor {
    /// Sends any command by name with any arguments; the reply is a [`Value`]
    /// unless [`returning`](Cmd::returning) asks for another type.
    ///
    /// A name of several words (`"CLIENT LIST"`) is sent as several
    /// arguments. Whether the command blocks (for the read timeout) is looked
    /// up in the spec by name.
    fn execute_cmd<A: Args>(self, name: &str, args: A) -> Cmd<Self::Sink, Raw, Value> {
        execute_cmd(self.__sink(), name, args)
    }

    /// Get the value of a key
    ///
    /// Since 1.0.0 · group `string` · complexity O(1)
    ///
    /// ```text
    /// GET key
    /// ```
    fn get<Key: ToArg>(self, key: Key) -> Cmd<Self::Sink, kind::Get, ::core::option::Option<Bytes>> {
        let mut __cmd = Cmd::__new(self.__sink());
        __cmd.__args().arg(1, key);
        __cmd
    }

    /// Set the string value of a key
    ///
    /// ```text
    /// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
    ///   EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
    /// ```
    fn set<Key: ToArg, Val: ToArg>(self, key: Key, value: Val) -> Cmd<Self::Sink, kind::Set, bool> {
        let mut __cmd = Cmd::__new(self.__sink());
        __cmd.__args().arg(1, key);
        __cmd.__args().arg(2, value);
        __cmd
    }

    /// Increment the integer value of a key by one
    fn incr<Key: ToArg>(self, key: Key) -> Cmd<Self::Sink, kind::Incr, i64> {
        let mut __cmd = Cmd::__new(self.__sink());
        __cmd.__args().arg(1, key);
        __cmd
    }

    /// Remove and get the first element in a list, or block until one is available
    fn blpop<Keys: ::core::iter::IntoIterator<Item = Key>, Key: ToArg>(
        self,
        key: Keys,
        timeout: f64,
    ) -> Cmd<Self::Sink, kind::Blpop, ::core::option::Option<(Bytes, Bytes)>> {
        let mut __cmd = Cmd::__new(self.__sink());
        __cmd.__args().multiple(1, ::core::option::Option::None, key);
        __cmd.__args().arg(2, timeout);
        __cmd
    }
}

impl<E: Executor> Commands for E {}

/// Typed methods for the commands that change connection state; not
/// available on a pool.
pub trait ConnectionCommands: StatefulExecutor {
    /// Mark the start of a transaction block
    fn multi(self) -> Cmd<Self::Sink, kind::Multi, ()> {
        Cmd::__new(self.__sink())
    }
}

impl<E: StatefulExecutor> ConnectionCommands for E {}

impl<S, R> Cmd<S, kind::Set, R> {
    /// Only set the key if it does not already exist.
    pub fn nx(mut self) -> Self {
        self.__args().token(3, "NX");
        self
    }
    /// Only set the key if it already exists.
    pub fn xx(mut self) -> Self {
        self.__args().token(3, "XX");
        self
    }
    /// Return the old value stored at key.
    pub fn get(mut self) -> Cmd<S, kind::Set, ::core::option::Option<Bytes>> {
        self.__args().token(4, "GET");
        self.returning()
    }
    /// Set the expiration, in seconds.
    pub fn ex(mut self, seconds: i64) -> Self {
        self.__args().token_arg(5, "EX", seconds);
        self
    }
    /// Set the expiration, in milliseconds.
    pub fn px(mut self, milliseconds: i64) -> Self {
        self.__args().token_arg(5, "PX", milliseconds);
        self
    }
    /// Keep the key's time to live.
    pub fn keepttl(mut self) -> Self {
        self.__args().token(5, "KEEPTTL");
        self
    }
}

/// One marker type per command, carrying what the spec says about it.
pub mod kind {
    use crate::__private::{CommandInfo, Kind};

    macro_rules! kinds {
        ($($ty:ident $name:literal $enc:literal $words:literal $blocking:literal $group:literal;)*) => {$(
            #[doc = concat!("The `", $name, "` command.")]
            #[derive(Debug)]
            pub enum $ty {}
            impl Kind for $ty {
                const INFO: &'static CommandInfo = &CommandInfo { name: $name, encoded_name: $enc, words: $words, blocking: $blocking, group: $group };
            }
        )*};
    }
    kinds! {
        Blpop "BLPOP" b"$5\r\nBLPOP\r\n" 1 true "list";
        Get "GET" b"$3\r\nGET\r\n" 1 false "string";
        Incr "INCR" b"$4\r\nINCR\r\n" 1 false "string";
        Multi "MULTI" b"$5\r\nMULTI\r\n" 1 false "transactions";
        Set "SET" b"$3\r\nSET\r\n" 1 false "string";
        Discard "DISCARD" b"$7\r\nDISCARD\r\n" 1 false "transactions";
        Exec "EXEC" b"$4\r\nEXEC\r\n" 1 false "transactions";
        Ping "PING" b"$4\r\nPING\r\n" 1 false "connection";
        Psubscribe "PSUBSCRIBE" b"$10\r\nPSUBSCRIBE\r\n" 1 false "pubsub";
        Punsubscribe "PUNSUBSCRIBE" b"$12\r\nPUNSUBSCRIBE\r\n" 1 false "pubsub";
        Ssubscribe "SSUBSCRIBE" b"$10\r\nSSUBSCRIBE\r\n" 1 false "pubsub";
        Subscribe "SUBSCRIBE" b"$9\r\nSUBSCRIBE\r\n" 1 false "pubsub";
        Sunsubscribe "SUNSUBSCRIBE" b"$12\r\nSUNSUBSCRIBE\r\n" 1 false "pubsub";
        Unsubscribe "UNSUBSCRIBE" b"$11\r\nUNSUBSCRIBE\r\n" 1 false "pubsub";
        Unwatch "UNWATCH" b"$7\r\nUNWATCH\r\n" 1 false "transactions";
        Watch "WATCH" b"$5\r\nWATCH\r\n" 1 false "transactions";
        Select "SELECT" b"$6\r\nSELECT\r\n" 1 false "connection";
    }

    /// Every command, sorted by name, for look-ups by name.
    pub(crate) static ALL: &[&CommandInfo] = &[
        Blpop::INFO,
        Discard::INFO,
        Exec::INFO,
        Get::INFO,
        Incr::INFO,
        Multi::INFO,
        Ping::INFO,
        Psubscribe::INFO,
        Punsubscribe::INFO,
        Select::INFO,
        Set::INFO,
        Ssubscribe::INFO,
        Subscribe::INFO,
        Sunsubscribe::INFO,
        Unsubscribe::INFO,
        Unwatch::INFO,
        Watch::INFO,
    ];
}

/// What the spec says about the command called `name` (any case), if it is
/// one the typed API knows.
pub fn command_info(name: &str) -> Option<&'static CommandInfo> {
    let upper = name.trim().to_ascii_uppercase();
    let upper = upper.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
    kind::ALL.binary_search_by(|c| c.name.cmp(&upper)).ok().map(|i| kind::ALL[i]).or_else(|| {
        // `CLIENT KILL` may be sent as "client kill ..." with arguments after;
        // fall back to the first word (`BLPOP`).
        let first = upper.split(' ').next()?;
        kind::ALL.binary_search_by(|c| c.name.cmp(first)).ok().map(|i| kind::ALL[i])
    })
}
