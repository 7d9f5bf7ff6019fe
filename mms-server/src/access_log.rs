//! The access log: one W3C extended log line per finished play, with the
//! field names Windows Media Services uses, built from what the server saw
//! and, when the client sent one, its CLIENT_LOG ([2.2.1.1], [3.2.5.15]).
//!
//! A play ends with the client's Logging message (most players send it
//! after StopPlaying or at the end of the stream), with a new play on the
//! same connection, or with the connection's end; a play the client never
//! reported is logged from the server's side alone, with `-` where only
//! the client knows. Values are escaped (`%XX` for anything but printable
//! ASCII) so a client cannot forge lines; no credential is ever logged
//! (`cs-user-name` is the authenticated user's name or `-`, `cs-uri-stem`
//! is the path alone).

use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use mms_proto::wire::ClientLogRepr;

/// The fields of each line, in order (the `#Fields:` directive).
pub const FIELDS: &[&str] = &[
    "c-ip",
    "date",
    "time",
    "c-dns",
    "cs-uri-stem",
    "c-starttime",
    "x-duration",
    "c-rate",
    "c-status",
    "c-playerid",
    "c-playerversion",
    "c-playerlanguage",
    "cs(User-Agent)",
    "c-hostexe",
    "c-hostexever",
    "c-os",
    "c-osversion",
    "c-cpu",
    "filelength",
    "filesize",
    "avgbandwidth",
    "protocol",
    "transport",
    "audiocodec",
    "videocodec",
    "sc-bytes",
    "c-bytes",
    "s-pkts-sent",
    "c-pkts-received",
    "c-pkts-lost-client",
    "c-pkts-lost-net",
    "c-pkts-lost-cont-net",
    "c-resendreqs",
    "c-pkts-recovered-ECC",
    "c-pkts-recovered-resent",
    "c-buffercount",
    "c-totalbuffertime",
    "c-quality",
    "s-ip",
    "cs-user-name",
];

/// What the server knows of one play.
#[derive(Debug, Clone)]
pub struct Play {
    /// The client's address.
    pub client: IpAddr,
    /// The server's address on the connection.
    pub server: IpAddr,
    /// The opened path, as the client sent it.
    pub uri_stem: String,
    /// Where the play started in the content, ms.
    pub start_ms: u64,
    /// When the play started.
    pub started: SystemTime,
    /// Content duration, ms (0 for live).
    pub file_duration_ms: u64,
    /// File size, bytes.
    pub file_size: u64,
    /// The client's version from its Connect, if it gave one.
    pub player_version: Option<String>,
    /// Data packet payload bytes sent.
    pub bytes_sent: u64,
    /// Data packets sent.
    pub packets_sent: u64,
    /// Data went over UDP (else TCP).
    pub udp: bool,
    /// The user the client identified as ([`crate::auth_policy`]), for
    /// `cs-user-name`; `None`: an open that needed no identification.
    pub user: Option<String>,
}

/// Where lines go.
pub struct AccessLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessLog")
    }
}

impl AccessLog {
    /// Appends to `path` (`-` for standard output), writing the W3C
    /// directives first when the file is new or empty.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if path == Path::new("-") {
            let mut out: Box<dyn Write + Send> = Box::new(std::io::stdout());
            out.write_all(directives().as_bytes())?;
            return Ok(Self::to_writer(out));
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        if file.metadata()?.len() == 0 {
            file.write_all(directives().as_bytes())?;
        }
        Ok(Self::to_writer(Box::new(file)))
    }

    /// Lines go to `out` (no directives are written).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    /// Writes the line for a finished play. A failing log is reported,
    /// never fatal to the stream.
    pub fn record(&self, play: &Play, client: Option<&ClientLogRepr<'_>>, now: SystemTime) {
        let line = line(play, client, now);
        // A poisoned lock means another thread panicked while writing a
        // line; the writer itself is still usable.
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "cannot write the access log");
        }
    }
}

/// The `#Software`, `#Version`, `#Date` and `#Fields` directives.
pub fn directives() -> String {
    let (date, time) = date_time(SystemTime::now());
    format!(
        "#Software: mms-server {}\n#Version: 1.0\n#Date: {date} {time}\n#Fields: {}\n",
        env!("CARGO_PKG_VERSION"),
        FIELDS.join(" ")
    )
}

/// `YYYY-MM-DD` and `HH:MM:SS`, UTC.
fn date_time(t: SystemTime) -> (String, String) {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    (s[..10].to_string(), s[11..19].to_string())
}

/// A field value: `-` when empty, `%XX` for anything but printable ASCII
/// other than `%` (so no space, newline or control byte gets through).
fn escape(out: &mut String, value: &[u8]) {
    if value.is_empty() {
        out.push('-');
        return;
    }
    for &b in value {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Four 16-bit parts, major first: `a.b.c.d`.
fn version(v: u64) -> String {
    format!(
        "{}.{}.{}.{}",
        v >> 48,
        (v >> 32) & 0xFFFF,
        (v >> 16) & 0xFFFF,
        v & 0xFFFF
    )
}

/// One line (with its newline).
pub fn line<'c>(play: &Play, client: Option<&ClientLogRepr<'c>>, now: SystemTime) -> String {
    let (date, time) = date_time(now);
    let duration = now.duration_since(play.started).map_or(0, |d| d.as_secs());
    let avg = (play.bytes_sent * 8).checked_div(duration).unwrap_or(0);
    let info = client.map(|c| &c.info);
    let text = |f: fn(&ClientLogRepr<'c>) -> &'c [u8]| client.map_or(&b""[..], f);
    let num =
        |f: fn(&ClientLogRepr<'c>) -> u64| client.map_or("-".to_string(), |c| f(c).to_string());
    let values: Vec<Vec<u8>> = vec![
        play.client.to_string().into(),
        date.into(),
        time.into(),
        text(|c| c.strings.computer_dns).to_vec(),
        play.uri_stem.as_bytes().to_vec(),
        info.map_or(play.start_ms / 1000, |i| u64::from(i.start_time_ms) / 1000)
            .to_string()
            .into(),
        duration.to_string().into(),
        info.map_or(1, |i| i.rate).to_string().into(),
        // 200: the play happened (a refused open is not a play).
        b"200".to_vec(),
        text(|c| c.info.strings.unique_pid).to_vec(),
        info.map(|i| version(i.client_version))
            .or_else(|| play.player_version.clone())
            .unwrap_or_default()
            .into(),
        text(|c| c.info.strings.lang).to_vec(),
        text(|c| c.info.strings.user_agent).to_vec(),
        text(|c| c.info.strings.host_exe).to_vec(),
        info.map_or(String::new(), |i| version(i.host_exe_version))
            .into(),
        text(|c| c.strings.os).to_vec(),
        client
            .map_or(String::new(), |c| version(c.os_version))
            .into(),
        text(|c| c.strings.cpu).to_vec(),
        (play.file_duration_ms / 1000).to_string().into(),
        play.file_size.to_string().into(),
        info.map_or(avg, |i| u64::from(i.avg_bandwidth_bps))
            .to_string()
            .into(),
        b"mms".to_vec(),
        if play.udp {
            b"UDP".to_vec()
        } else {
            b"TCP".to_vec()
        },
        text(|c| c.info.strings.audio_codec).to_vec(),
        text(|c| c.info.strings.video_codec).to_vec(),
        play.bytes_sent.to_string().into(),
        num(|c| c.info.bytes_received).into(),
        play.packets_sent.to_string().into(),
        num(|c| u64::from(c.info.packets_received)).into(),
        num(|c| u64::from(c.info.packets_lost_client)).into(),
        num(|c| u64::from(c.packets_lost_net)).into(),
        num(|c| u64::from(c.packets_lost_cont_net)).into(),
        num(|c| u64::from(c.resend_requests)).into(),
        num(|c| u64::from(c.info.packets_recovered_ecc)).into(),
        num(|c| u64::from(c.packets_recovered_resent)).into(),
        num(|c| u64::from(c.info.buffering_count)).into(),
        num(|c| u64::from(c.info.buffering_time_ms) / 1000).into(),
        num(|c| u64::from(c.info.min_reception_quality)).into(),
        play.server.to_string().into(),
        // The authenticated user's name only: no password, hash or token
        // reaches a log.
        play.user.as_deref().unwrap_or("").as_bytes().to_vec(),
    ];
    debug_assert_eq!(values.len(), FIELDS.len());
    let mut out = String::with_capacity(512);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        escape(&mut out, v);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mms_proto::wire::{ClientLogInfoRepr, ClientLogInfoStrings, ClientLogStrings};

    fn play() -> Play {
        Play {
            client: "192.0.2.7".parse().unwrap(),
            server: "127.0.0.1".parse().unwrap(),
            uri_stem: "/music/a b.wma".into(),
            start_ms: 12_000,
            started: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            file_duration_ms: 180_500,
            file_size: 3_000_000,
            player_version: Some("7.0.0.1956".into()),
            bytes_sent: 400_000,
            packets_sent: 125,
            udp: false,
            user: None,
        }
    }

    fn field<'a>(line: &'a str, name: &str) -> &'a str {
        let i = FIELDS.iter().position(|f| *f == name).unwrap();
        line.trim_end().split(' ').nth(i).unwrap()
    }

    #[test]
    fn a_play_without_a_client_log_has_the_servers_view() {
        let now = play().started + std::time::Duration::from_secs(10);
        let l = line(&play(), None, now);
        assert!(l.ends_with('\n') && l.matches('\n').count() == 1);
        assert_eq!(l.trim_end().split(' ').count(), FIELDS.len());
        assert_eq!(field(&l, "c-ip"), "192.0.2.7");
        assert_eq!(field(&l, "date"), "2023-11-14");
        assert_eq!(field(&l, "time"), "22:13:30");
        assert_eq!(field(&l, "cs-uri-stem"), "/music/a%20b.wma");
        assert_eq!(field(&l, "c-starttime"), "12");
        assert_eq!(field(&l, "x-duration"), "10");
        assert_eq!(field(&l, "c-playerversion"), "7.0.0.1956");
        assert_eq!(field(&l, "filelength"), "180");
        assert_eq!(field(&l, "avgbandwidth"), "320000");
        assert_eq!(field(&l, "sc-bytes"), "400000");
        assert_eq!(field(&l, "s-pkts-sent"), "125");
        assert_eq!(field(&l, "c-bytes"), "-");
        assert_eq!(field(&l, "transport"), "TCP");
        assert_eq!(field(&l, "cs-user-name"), "-");
        let alice = Play {
            user: Some("alice b".into()),
            ..play()
        };
        let l = line(&alice, None, SystemTime::UNIX_EPOCH);
        assert_eq!(field(&l, "cs-user-name"), "alice%20b");
    }

    #[test]
    fn a_client_log_fills_the_client_fields_and_cannot_forge_lines() {
        let log = ClientLogRepr {
            info: ClientLogInfoRepr {
                strings: ClientLogInfoStrings {
                    unique_pid: b"{3300AD50-2C39-46C0-AE0A-60ABC2E07A11}",
                    lang: b"en-US",
                    user_agent: b"evil\n1.2.3.4 2020-01-01",
                    audio_codec: b"Windows Media Audio 9",
                    ..Default::default()
                },
                client_version: 0x0009_0000_0000_0B9C,
                start_time_ms: 5_000,
                rate: 1,
                bytes_received: 399_000,
                packets_received: 124,
                packets_lost_client: 1,
                avg_bandwidth_bps: 310_000,
                ..Default::default()
            },
            strings: ClientLogStrings {
                os: b"Windows_XP",
                ..Default::default()
            },
            os_version: 0x0005_0001_0A28_0000,
            ..Default::default()
        };
        let l = line(&play(), Some(&log), play().started);
        assert_eq!(l.matches('\n').count(), 1, "{l}");
        assert_eq!(l.trim_end().split(' ').count(), FIELDS.len());
        assert_eq!(field(&l, "cs(User-Agent)"), "evil%0A1.2.3.4%202020-01-01");
        assert_eq!(field(&l, "c-playerversion"), "9.0.0.2972");
        assert_eq!(field(&l, "c-osversion"), "5.1.2600.0");
        assert_eq!(field(&l, "c-starttime"), "5");
        assert_eq!(field(&l, "audiocodec"), "Windows%20Media%20Audio%209");
        assert_eq!(field(&l, "c-bytes"), "399000");
        assert_eq!(field(&l, "c-pkts-lost-client"), "1");
        assert_eq!(field(&l, "avgbandwidth"), "310000");
    }

    #[test]
    fn directives_name_every_field() {
        let d = directives();
        assert!(d.starts_with("#Software: mms-server "));
        assert!(d.contains(&format!("#Fields: {}\n", FIELDS.join(" "))));
    }
}
