//! `mms probe`: what the server says about a stream.

use std::io::{self, Write};

use mms_client::{Options, Session};
use mms_proto::wire::{
    FILE_ATTRIBUTE_MMS_BROADCAST, FILE_ATTRIBUTE_MMS_CANSEEK, FILE_ATTRIBUTE_MMS_CANSTRIDE,
    FILE_ATTRIBUTE_MMS_LIVE, FILE_ATTRIBUTE_MMS_PLAYLIST,
};

use crate::Failure;
use crate::cli::ProbeArgs;

/// Connects, prints, closes.
pub(crate) async fn run(args: ProbeArgs, options: Options) -> Result<(), Failure> {
    let session = mms_client::connect(&args.url, options).await?;
    let r = probe(&session, args.json);
    let _ = session.close().await;
    r.map_err(|e| Failure::Output("stdout".into(), e))
}

/// The names of the fileAttributes bits set ([2.2.4.7]).
fn attribute_names(a: u32) -> Vec<&'static str> {
    let names = [
        (FILE_ATTRIBUTE_MMS_CANSEEK, "seekable"),
        (FILE_ATTRIBUTE_MMS_CANSTRIDE, "stridable"),
        (FILE_ATTRIBUTE_MMS_BROADCAST, "broadcast"),
        (FILE_ATTRIBUTE_MMS_LIVE, "live"),
        (FILE_ATTRIBUTE_MMS_PLAYLIST, "playlist"),
    ];
    names
        .iter()
        .filter(|(bit, _)| a & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn attributes(a: u32) -> String {
    let list = attribute_names(a);
    format!(
        "{} (0x{a:08X})",
        if list.is_empty() {
            "-".into()
        } else {
            list.join(", ")
        }
    )
}

/// Whether Data over UDP was offered: a word for JSON and a line for
/// people.
fn udp(s: &Session) -> (&'static str, &'static str) {
    match s.udp_offered() {
        None => (
            "not asked",
            "not asked (mmst:// or --transport tcp); Data over TCP",
        ),
        Some(true) => ("offered", "offered; Data would come over UDP"),
        Some(false) if s.udp_blocked() => (
            "blocked",
            "accepted, but no datagram came through (a firewall?); Data over TCP",
        ),
        Some(false) => ("declined", "declined by the server; Data over TCP"),
    }
}

/// The scheme the server names for content that asks for credentials.
fn auth(s: &Session) -> Option<&'static str> {
    s.auth_offered().map(|a| a.as_str())
}

fn probe(s: &Session, json: bool) -> io::Result<()> {
    let f = s.file();
    let streams = s.streams().map_err(io::Error::other)?;
    // As sent, whatever its shape ("0.9.75" too).
    let version = s.server_version_text().unwrap_or("-").to_string();
    let mut out = io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "url": s.url().to_string(),
            "server_version": version,
            "attributes": f.attributes,
            "attribute_names": attribute_names(f.attributes),
            "auth": auth(s),
            "udp": udp(s).0,
            "broadcast": f.is_broadcast(),
            "seekable": f.can_seek(),
            "duration": f.duration,
            "bit_rate": f.bit_rate,
            "packet_size": f.packet_size,
            "packet_count": f.packet_count,
            "header_size": s.header().len(),
            "streams": streams,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).map_err(io::Error::other)?
        )?;
        return Ok(());
    }
    writeln!(out, "URL          {}", s.url())?;
    writeln!(out, "Server       {version}")?;
    writeln!(out, "Attributes   {}", attributes(f.attributes))?;
    writeln!(
        out,
        "Auth         {}",
        auth(s).map_or("none named by the server", |a| a)
    )?;
    writeln!(out, "UDP          {}", udp(s).1)?;
    writeln!(out, "Duration     {:.3} s", f.duration)?;
    writeln!(out, "Bit rate     {} bit/s", f.bit_rate)?;
    writeln!(out, "Packet size  {} bytes", f.packet_size)?;
    writeln!(out, "Packets      {}", f.packet_count)?;
    writeln!(out, "Header       {} bytes", s.header().len())?;
    writeln!(out, "Streams      {}", streams.len())?;
    writeln!(out, "  #  type      codec         bit rate  language")?;
    for st in &streams {
        writeln!(
            out,
            "  {:<2} {:<9} {:<12} {:>9}  {}",
            st.number,
            st.kind,
            st.codec,
            st.bit_rate,
            st.language.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}
