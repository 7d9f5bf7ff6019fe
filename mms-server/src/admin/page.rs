//! The status page: totals, the sessions, the publishing points and the
//! files with their announcement links, as plain HTML with its CSS inline
//! (no script, no external asset), refreshing itself (`<meta
//! http-equiv="refresh">`; the interval is a form field with its label).
//! Headings in order, tables with captions and `scope`d headers.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::Site;
use super::announce::{percent_encode, servable, xml_escape as esc};
use crate::metrics::SessionInfo;

/// Refresh intervals offered, s.
const REFRESH: [u32; 6] = [2, 5, 10, 30, 60, 300];
/// Files listed at most (the announcements of others still answer).
const MAX_FILES: usize = 200;
/// Folder depth walked for the file list.
const MAX_DEPTH: usize = 4;

/// `refresh=N` from a query string, if it is one of the offered values.
pub(super) fn refresh_from_query(query: &str) -> Option<u32> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("refresh="))
        .and_then(|v| v.parse().ok())
        .filter(|v| REFRESH.contains(v))
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 10 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 10 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 10 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Servable files under the root, relative, sorted (bounded walk).
fn files(root: &Path) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut todo = vec![(root.to_path_buf(), 0)];
    let mut more = false;
    while let Some((dir, depth)) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let path = e.path();
            if kind.is_dir() && depth < MAX_DEPTH {
                todo.push((path, depth + 1));
            } else if kind.is_file() {
                let Some(rel) = path.strip_prefix(root).ok().and_then(|p| p.to_str()) else {
                    continue;
                };
                if servable(rel) {
                    if out.len() == MAX_FILES {
                        more = true;
                        break;
                    }
                    out.push(rel.replace(std::path::MAIN_SEPARATOR, "/"));
                }
            }
        }
    }
    out.sort();
    (out, more)
}

const CSS: &str = "\
body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:72rem;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}
dl.totals{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:.5rem;margin:0}
dl.totals div{background:#fff;border:1px solid #d0d5dc;border-radius:6px;padding:.5rem .75rem}
dt{font-size:.85rem;color:#4a5360}dd{margin:0;font-size:1.25rem;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d5dc}
caption{text-align:left;color:#4a5360;padding:.25rem 0}
th,td{padding:.4rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
thead th{background:#eef1f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.state{font-weight:600}.streaming{color:#0b6b2f}.closed{color:#8a1c1c}
form{margin:1rem 0}select,button{font:inherit;padding:.15rem .4rem}
a{color:#0b4f9c}a:focus,select:focus,button:focus{outline:3px solid #f2b600;outline-offset:1px}
footer{margin-top:2rem;color:#4a5360;font-size:.85rem}
@media (prefers-color-scheme:dark){body{background:#15181c;color:#e7eaee}
dl.totals div,table{background:#1e2227;border-color:#3a414a}thead th{background:#262b31}
th,td{border-color:#30363e}dt,caption,footer{color:#a9b1bb}a{color:#8cc2ff}
.streaming{color:#6fdc8f}.closed{color:#ff8c8c}}
";

/// The page for `sessions`, refreshing every `refresh` seconds.
pub(super) fn status(site: &Site, sessions: &[SessionInfo], refresh: u32) -> String {
    let m = &site.metrics;
    let mut h = String::with_capacity(8192);
    let uptime = SystemTime::now()
        .duration_since(m.started())
        .unwrap_or_default();
    let streaming = sessions.iter().filter(|s| s.state == "streaming").count();
    let rate: u64 = sessions
        .iter()
        .filter(|s| s.state == "streaming")
        .map(|s| u64::from(s.bit_rate))
        .sum();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"refresh\" content=\"{refresh}\">\n\
         <title>mms-server status</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n\
         <h1>mms-server {}</h1>\n",
        env!("CARGO_PKG_VERSION")
    );
    let totals = [
        (
            "Sessions",
            format!("{} of {}", sessions.len(), m.max_sessions()),
        ),
        ("Streaming", streaming.to_string()),
        ("Streaming bit rate", format!("{} kbit/s", rate / 1000)),
        ("Sent", bytes(m.bytes_sent())),
        ("Refused", m.refused().to_string()),
        ("Up for", hms(uptime)),
    ];
    h.push_str("<section aria-labelledby=\"totals\">\n<h2 id=\"totals\">Totals</h2>\n<dl class=\"totals\">\n");
    for (k, v) in totals {
        let _ = writeln!(h, "<div><dt>{k}</dt><dd>{}</dd></div>", esc(&v));
    }
    let _ = write!(
        h,
        "</dl>\n<p>Serving <code>{}</code> on MMS port {}. \
         Figures for programs: <a href=\"/metrics\">/metrics</a>.</p>\n</section>\n",
        esc(&site.root.path().display().to_string()),
        site.mms.port()
    );

    h.push_str("<section aria-labelledby=\"sessions\">\n<h2 id=\"sessions\">Sessions</h2>\n");
    if sessions.is_empty() {
        h.push_str("<p>No sessions.</p>\n");
    } else {
        let _ = write!(
            h,
            "<table>\n<caption>{} connected client{}</caption>\n<thead><tr>\
             <th scope=\"col\">Peer</th><th scope=\"col\">Path</th><th scope=\"col\">Player</th>\
             <th scope=\"col\">State</th><th scope=\"col\">Transport</th>\
             <th scope=\"col\">Bit rate</th><th scope=\"col\">Connected for</th>\
             <th scope=\"col\">Sent this play</th></tr></thead>\n<tbody>\n",
            sessions.len(),
            if sessions.len() == 1 { "" } else { "s" }
        );
        let mut sorted: Vec<&SessionInfo> = sessions.iter().collect();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.connected));
        for s in sorted {
            let _ = writeln!(
                h,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td>\
                 <td class=\"state {}\">{}</td><td>{}</td><td class=\"n\">{} kbit/s</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&s.peer.to_string()),
                if s.path.is_empty() {
                    "—".to_string()
                } else {
                    esc(&s.path)
                },
                esc(s.player.as_deref().unwrap_or("—")),
                s.state,
                s.state,
                s.transport.to_ascii_uppercase(),
                s.bit_rate / 1000,
                hms(s.connected),
                bytes(s.play_bytes),
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    h.push_str("<section aria-labelledby=\"points\">\n<h2 id=\"points\">Publishing points</h2>\n");
    let points = m.points();
    if points.is_empty() {
        h.push_str("<p>No live publishing points.</p>\n");
    } else {
        h.push_str(
            "<table>\n<caption>Live publishing points</caption>\n<thead><tr>\
             <th scope=\"col\">Point</th><th scope=\"col\">Source</th>\
             <th scope=\"col\">Listeners</th><th scope=\"col\">Up for</th>\
             <th scope=\"col\">Restarts</th></tr></thead>\n<tbody>\n",
        );
        let r = std::sync::atomic::Ordering::Relaxed;
        for p in points {
            let up = SystemTime::now()
                .duration_since(p.created)
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.name),
                if p.source_up.load(r) { "up" } else { "down" },
                p.listeners.load(r),
                hms(up),
                p.restarts.load(r)
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    h.push_str("<section aria-labelledby=\"files\">\n<h2 id=\"files\">Files</h2>\n");
    let (files, more) = files(site.root.path());
    if files.is_empty() {
        h.push_str("<p>No servable files under the root.</p>\n");
    } else {
        h.push_str(
            "<table>\n<caption>Announcements: a browser opening one hands the stream to the \
             player</caption>\n<thead><tr><th scope=\"col\">File</th>\
             <th scope=\"col\">Announcement</th></tr></thead>\n<tbody>\n",
        );
        for f in &files {
            let link = percent_encode(f);
            let _ = writeln!(
                h,
                "<tr><th scope=\"row\">{}</th><td><a href=\"/{link}.asx\">{}.asx</a></td></tr>",
                esc(f),
                esc(f)
            );
        }
        h.push_str("</tbody>\n</table>\n");
        if more {
            let _ = writeln!(h, "<p>The first {MAX_FILES} files are listed.</p>");
        }
    }
    h.push_str("</section>\n");

    h.push_str(
        "<form method=\"get\" action=\"/\">\n<label for=\"refresh\">Refresh every</label>\n\
         <select id=\"refresh\" name=\"refresh\">\n",
    );
    for v in REFRESH {
        let _ = writeln!(
            h,
            "<option value=\"{v}\"{}>{v} s</option>",
            if v == refresh { " selected" } else { "" }
        );
    }
    h.push_str("</select>\n<button type=\"submit\">Apply</button>\n</form>\n");
    let _ = write!(
        h,
        "<footer>This page refreshes every {refresh} s.</footer>\n</main>\n</body>\n</html>\n"
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_comes_only_from_the_offered_values() {
        assert_eq!(refresh_from_query("refresh=10"), Some(10));
        assert_eq!(refresh_from_query("a=1&refresh=2"), Some(2));
        assert_eq!(refresh_from_query("refresh=0"), None);
        assert_eq!(refresh_from_query("refresh=1%3Cscript"), None);
        assert_eq!(hms(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(bytes(5), "5 B");
        assert_eq!(bytes(20 << 20), "20.0 MiB");
    }
}
