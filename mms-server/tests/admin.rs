//! The admin listener (issue 16): `/metrics` read by Python's
//! `prometheus_client` parser and checked against a known session (bytes
//! counted by a relay between client and server, packets against the
//! file), the status page of a live session checked by Python's
//! html.parser and by headless Chromium (its DOM and a screenshot),
//! `.asx` announcements parsed by xml.etree, the token rules, and a VLC
//! `mmsu://` session counted under `transport="udp"`.
//! Missing python3, prometheus_client or chromium fail with the hint to
//! run `cargo xtask deps`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::client::ScriptedClient;
use mms_proto::server::Config;
use mms_proto::wire::{HResult, Message};
use mms_server::admin::{Admin, AdminSettings, Site, Token};
use mms_server::content::ContentRoot;
use mms_server::{Options, Server};

/// A server and its admin listener, stopped when dropped.
struct Served {
    addr: SocketAddr,
    admin: Option<Admin>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Served {
    fn admin(&self) -> SocketAddr {
        self.admin.as_ref().unwrap().local_addr()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.admin.take();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn admin_settings(token: Option<&str>) -> AdminSettings {
    AdminSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        allow_remote: false,
        token: token.map(Token::new),
        public_name: Some("public.example".into()),
        refresh_secs: 5,
    }
}

fn serve(dir: &Path, options: Options, admin: AdminSettings) -> Served {
    admin.check().unwrap();
    let root = ContentRoot::new(dir).unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), root.clone(), options).unwrap();
    let addr = server.local_addr().unwrap();
    let site = Site {
        metrics: server.metrics(),
        root,
        mms: addr,
    };
    let admin = Admin::start(&admin, site).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || server.run(&flag));
    Served {
        addr,
        admin: Some(admin),
        stop,
        thread: Some(thread),
    }
}

/// One HTTP/1.1 GET (or HTTP/1.0 without Host when `host` is None):
/// status, headers (lowercased names), body.
fn get(
    addr: SocketAddr,
    path: &str,
    host: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = match host {
        Some(h) => format!("GET {path} HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n"),
        None => format!("GET {path} HTTP/1.0\r\n"),
    };
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Runs a Python script with `input` on stdin; its stdout. A missing
/// python3 or module fails with the hint.
fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 not found ({e}): run `cargo xtask deps`"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("ModuleNotFoundError"),
        "a Python module is missing: run `cargo xtask deps`\n{err}"
    );
    assert!(out.status.success(), "python failed:\n{err}");
    String::from_utf8(out.stdout).unwrap()
}

/// Every sample of a Prometheus text exposition, as prometheus_client's
/// parser reads it: `name{k="v",…} value` lines with sorted labels.
fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {family.type} {s.value!r}")
"#;
    python(script, text)
        .lines()
        .map(|l| {
            let mut parts = l.rsplitn(3, ' ');
            let value = parts.next().unwrap().parse().unwrap();
            let _kind = parts.next().unwrap();
            (parts.next().unwrap().to_string(), value)
        })
        .collect()
}

fn value(samples: &[(String, f64)], key: &str) -> f64 {
    samples
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no sample {key}"))
        .1
}

/// Waits (bounded) until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TCP relay to `to` for one connection, counting the bytes from the
/// server to the client.
fn relay(to: SocketAddr) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(to).unwrap();
        let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut c_in, &mut s_out);
            let _ = s_out.shutdown(std::net::Shutdown::Write);
        });
        let (mut s_in, mut c_out) = (server, client);
        let mut buf = [0u8; 16384];
        while let Ok(n) = s_in.read(&mut buf) {
            if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                break;
            }
            counted.fetch_add(n as u64, Ordering::Relaxed);
        }
        let _ = c_out.shutdown(std::net::Shutdown::Write);
    });
    (addr, count)
}

fn play_whole(c: &mut ScriptedClient, name: &str, streams: &[u16]) -> Vec<(u32, Vec<u8>)> {
    let open = c.open(name).unwrap();
    let Some(Message::ReportOpenFile(r)) = open.message() else {
        panic!("no ReportOpenFile: {open:?}")
    };
    assert_eq!(r.hr, HResult::S_OK);
    c.read_header(1).unwrap();
    c.select(streams, &[]).unwrap();
    c.play_from(0, 2).unwrap();
    let (packets, hr) = c.until_end().unwrap();
    assert_eq!(hr, HResult::S_OK);
    packets
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_a_known_session() {
    let server = serve(
        &common::testdata_dir(),
        Options::new(Config {
            paced: false,
            // Still connected when the counters are read, however slow.
            linger: Some(mms_proto::time::Duration::from_secs(60)),
            ..Config::default()
        }),
        admin_settings(None),
    );
    let (via, relayed) = relay(server.addr);
    let mut c = ScriptedClient::connect(via).unwrap();
    let packets = play_whole(&mut c, "ff_av.wmv", &[1, 2]);
    let file = std::fs::read(common::testdata_dir().join("ff_av.wmv")).unwrap();
    assert_eq!(packets.len(), common::packets(&file).1.len());

    let scrape = || {
        let (status, headers, body) = get(server.admin(), "/metrics", Some("127.0.0.1"), &[]);
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        parse_metrics(&body)
    };
    // Every byte the server handed the connection went through the relay.
    let mut samples = Vec::new();
    eventually("the byte counter equals what the client received", || {
        samples = scrape();
        value(&samples, "mms_sent_bytes_total{transport=\"tcp\"}")
            == relayed.load(Ordering::Relaxed) as f64
    });
    let bytes = relayed.load(Ordering::Relaxed);
    assert!(bytes > file.len() as u64 / 2, "{bytes} bytes relayed");
    let v = |k: &str| value(&samples, k);
    assert_eq!(
        v("mms_sent_packets_total{transport=\"tcp\"}"),
        packets.len() as f64
    );
    assert_eq!(v("mms_sent_packets_total{transport=\"udp\"}"), 0.0);
    assert_eq!(v("mms_sent_bytes_total{transport=\"udp\"}"), 0.0);
    assert_eq!(v("mms_connections_accepted_total{}"), 1.0);
    assert_eq!(v("mms_opens_total{}"), 1.0);
    assert_eq!(v("mms_refused_total{reason=\"not_found\"}"), 0.0);
    // The session is still connected (it lingers after the end).
    let sessions: f64 = samples
        .iter()
        .filter(|(k, _)| k.starts_with("mms_sessions{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(sessions, 1.0);
    assert_eq!(v("mms_event_loop_sessions{loop=\"0\"}"), 1.0);
    assert!(v("mms_event_loop_busy_seconds_total{loop=\"0\"}") > 0.0);

    // A missing file is a refusal by reason; the counters go on.
    let mut c2 = ScriptedClient::connect(server.addr).unwrap();
    let answer = c2.open("no/such.wmv").unwrap();
    let Some(Message::ReportOpenFile(r)) = answer.message() else {
        panic!("no ReportOpenFile: {answer:?}")
    };
    assert_eq!(r.hr, HResult::NS_E_FILE_NOT_FOUND);
    let samples = scrape();
    assert_eq!(
        value(&samples, "mms_refused_total{reason=\"not_found\"}"),
        1.0
    );
    assert_eq!(value(&samples, "mms_connections_accepted_total{}"), 2.0);
}

#[test]
fn announcements_are_asx_for_files_under_the_root_only() {
    let server = serve(
        &common::testdata_dir(),
        Options::new(Config::default()),
        admin_settings(None),
    );
    let port = server.addr.port();
    let (status, headers, body) = get(
        server.admin(),
        "/ff_av.wmv.asx",
        Some("Media.Example.org:8080"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("video/x-ms-asf"));
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
assert root.tag.lower() == "asx", root.tag
print(root.get("version"))
for ref in root.iter("ref"):
    print(ref.get("href"))
"#;
    assert_eq!(
        python(script, &body),
        format!("3.0\nmms://media.example.org:{port}/ff_av.wmv\n")
    );
    // .nsc answers the same; without a Host header the public name is used.
    let (status, _, nsc) = get(server.admin(), "/ff_av.wmv.nsc", None, &[]);
    assert_eq!(status, 200);
    assert_eq!(
        python(script, &nsc),
        format!("3.0\nmms://public.example:{port}/ff_av.wmv\n")
    );
    // A forged Host cannot reach the metafile.
    let (_, _, forged) = get(
        server.admin(),
        "/ff_av.wmv.asx",
        Some("x\"/><ref href=\"http://evil"),
        &[],
    );
    assert!(forged.contains("mms://public.example:"), "{forged}");
    // Nothing outside the root, however it is spelled.
    for path in [
        "/%2e%2e/testdata/ff_av.wmv.asx",
        "/..%2Ftestdata%2Fff_av.wmv.asx",
        "/%2Fetc%2Fpasswd.wmv.asx",
        "/a%5Cb.wmv.asx",
        "/a%00.wmv.asx",
    ] {
        let (status, _, _) = get(server.admin(), path, Some("h"), &[]);
        assert!(matches!(status, 403 | 404), "{path}: {status}");
    }
    for (path, want) in [
        ("/missing.wmv.asx", 404),
        ("/ff_av.wmv.txt", 404),
        ("/bad%zz.wmv.asx", 400),
    ] {
        assert_eq!(get(server.admin(), path, Some("h"), &[]).0, want, "{path}");
    }
}

#[test]
fn a_token_guards_metrics_and_status_but_not_announcements() {
    let token = "correct-horse-battery-staple";
    let server = serve(
        &common::testdata_dir(),
        Options::new(Config::default()),
        admin_settings(Some(token)),
    );
    let a = server.admin();
    let bearer = format!("Bearer {token}");
    for path in ["/metrics", "/"] {
        let (status, headers, _) = get(a, path, Some("h"), &[]);
        assert_eq!(status, 401, "{path}");
        assert!(header(&headers, "www-authenticate").is_some());
        let wrong = get(
            a,
            path,
            Some("h"),
            &[("Authorization", "Bearer wrong-token-xxxxxxx")],
        );
        assert_eq!(wrong.0, 401, "{path}");
        assert_eq!(
            get(a, path, Some("h"), &[("Authorization", &bearer)]).0,
            200
        );
    }
    assert_eq!(get(a, "/ff_av.wmv.asx", Some("h"), &[]).0, 200);
}

/// What html.parser finds in the status page: its language, headings,
/// table headers with their scope, labels and the ids they name, the
/// controls' ids, and each row's cells.
const HTML_CHECK: &str = r#"
import sys, json
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.out = {"lang": None, "headings": [], "th": [], "labels": [], "ids": [], "rows": [], "external": []}
        self.cell = None; self.row = None; self.heading = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html": self.out["lang"] = a.get("lang")
        if "id" in a: self.out["ids"].append(a["id"])
        if tag in ("script", "img", "link", "iframe"): self.out["external"].append(tag)
        if tag in ("h1", "h2", "h3"): self.heading = [tag, ""]
        if tag == "th": self.out["th"].append(a.get("scope"))
        if tag == "label": self.out["labels"].append(a.get("for"))
        if tag == "tr": self.row = []
        if tag in ("td", "th") and self.row is not None: self.cell = ""
    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self.heading:
            self.out["headings"].append(self.heading); self.heading = None
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip()); self.cell = None
        if tag == "tr" and self.row is not None:
            self.out["rows"].append(self.row); self.row = None
    def handle_data(self, d):
        if self.heading: self.heading[1] += d
        if self.cell is not None: self.cell += d
p = P(); p.feed(sys.stdin.read()); print(json.dumps(p.out))
"#;

/// Headless Chromium from Debian (as root it needs --no-sandbox).
fn chromium(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ])
    .args(args)
    .stdin(Stdio::null());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chromium-profile");
    cmd.arg(format!("--user-data-dir={}", dir.display()));
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("chromium not found ({e}): run `cargo xtask deps`"));
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    // A hard limit: a hung browser is killed, and the test fails.
    std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::Relaxed) {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::Relaxed);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_status_page_shows_a_live_session_in_a_real_browser() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    let server = serve(&demo, Options::new(Config::default()), admin_settings(None));
    // A paced 20 s play: streaming while the page is looked at.
    let mut c = ScriptedClient::connect(server.addr).unwrap();
    let open = c.open("demo.wmv").unwrap();
    assert!(matches!(open.message(), Some(Message::ReportOpenFile(r)) if r.hr == HResult::S_OK));
    c.read_header(1).unwrap();
    c.select(&[1, 2], &[]).unwrap();
    c.play_from(0, 2).unwrap();
    let mut data = 0;
    while data < 3 {
        if let Some(common::client::Incoming::Data { .. }) = c.recv().unwrap() {
            data += 1;
        }
    }
    let peer = c.stream().local_addr().unwrap().to_string();

    let (status, headers, page) = get(server.admin(), "/", Some("127.0.0.1"), &[]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(header(&headers, "content-security-policy").is_some());
    let found: found::Page = found::parse(&python(HTML_CHECK, &page));
    assert_eq!(found.lang.as_deref(), Some("en"));
    assert_eq!(found.headings[0].0, "h1");
    assert!(found.headings[0].1.starts_with("mms-server"));
    for h2 in ["Totals", "Sessions", "Publishing points", "Files"] {
        assert!(
            found.headings.iter().any(|(t, x)| t == "h2" && x == h2),
            "no h2 {h2}: {:?}",
            found.headings
        );
    }
    assert!(!found.th.is_empty());
    assert!(
        found
            .th
            .iter()
            .all(|s| matches!(s.as_deref(), Some("col" | "row"))),
        "every th has a scope: {:?}",
        found.th
    );
    assert!(!found.labels.is_empty());
    for l in &found.labels {
        let id = l.as_deref().expect("label for=");
        assert!(
            found.ids.iter().any(|i| i == id),
            "label for {id}: no such id"
        );
    }
    assert!(found.external.is_empty(), "{:?}", found.external);
    let row = found
        .rows
        .iter()
        .find(|r| r.first() == Some(&peer))
        .unwrap_or_else(|| panic!("no row for {peer}: {:?}", found.rows));
    assert_eq!(row[1], "/demo.wmv");
    assert!(row[2].starts_with("NSPlayer/9.0"), "{row:?}");
    assert_eq!(&row[3..5], ["streaming", "TCP"]);
    assert!(
        found
            .rows
            .iter()
            .any(|r| r == &["demo.wma", "demo.wma.asx"])
    );

    // The browser's view: the same row in its DOM, and a screenshot.
    let url = format!("http://{}/", server.admin());
    let dom = chromium(&["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(&peer) && dom.contains("/demo.wmv"), "{dom}");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-status.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&[
        "--window-size=1200,900",
        &format!("--screenshot={}", shot.display()),
        &url,
    ]);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1200, 900));
    // A blank page compresses to almost nothing; this one has text and tables.
    assert!(png.len() > 20_000, "{} bytes: a blank page?", png.len());
    drop(c);
}

/// A few lines instead of a JSON dependency: html.parser's findings.
mod found {
    #[derive(Debug, Default)]
    pub(super) struct Page {
        pub(super) lang: Option<String>,
        pub(super) headings: Vec<(String, String)>,
        pub(super) th: Vec<Option<String>>,
        pub(super) labels: Vec<Option<String>>,
        pub(super) ids: Vec<String>,
        pub(super) rows: Vec<Vec<String>>,
        pub(super) external: Vec<String>,
    }

    pub(super) fn parse(json: &str) -> Page {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
        Page {
            lang: s(&v["lang"]),
            headings: list("headings")
                .iter()
                .map(|h| (s(&h[0]).unwrap(), s(&h[1]).unwrap().trim().to_string()))
                .collect(),
            th: list("th").iter().map(s).collect(),
            labels: list("labels").iter().map(s).collect(),
            ids: list("ids").iter().filter_map(s).collect(),
            rows: list("rows")
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .filter_map(s)
                        .collect::<Vec<_>>()
                })
                .collect(),
            external: list("external").iter().filter_map(s).collect(),
        }
    }
}

#[test]
fn a_vlc_session_over_udp_is_labelled_udp() {
    let server = serve(
        &common::testdata_dir(),
        Options::new(Config {
            udp: true,
            linger: Some(mms_proto::time::Duration::from_secs(1)),
            ..Config::default()
        }),
        admin_settings(None),
    );
    let home = common::vlc_dir("vlc-admin");
    let out = home.join("admin-udp.asf");
    let url = format!("mmsu://{}/ff_av.wmv", server.addr);
    let mut cmd = common::cvlc(&home, &[&url, "--demux", "dump", "--demuxdump-file"]);
    cmd.arg(&out).arg("vlc://quit");
    let vlc = std::thread::spawn(move || {
        common::run_with_timeout(&mut cmd, Duration::from_secs(60), "cvlc")
    });
    let scrape = || parse_metrics(&get(server.admin(), "/metrics", Some("h"), &[]).2);
    let streaming = "mms_sessions{state=\"streaming\",transport=\"udp\"}";
    eventually("a streaming UDP session in the gauges", || {
        value(&scrape(), streaming) == 1.0
    });
    let (_, log) = vlc.join().unwrap();
    let samples = scrape();
    let v = |k: &str| value(&samples, k);
    let packets = v("mms_sent_packets_total{transport=\"udp\"}");
    assert!(packets >= 1.0, "no UDP packets counted; vlc:\n{log}");
    assert_eq!(v("mms_sent_packets_total{transport=\"tcp\"}"), 0.0);
    // Each Data datagram is an 8-byte header and a packet of the file's size.
    assert!(v("mms_sent_bytes_total{transport=\"udp\"}") > packets * 8.0);
    assert!(
        v("mms_sent_bytes_total{transport=\"tcp\"}") > 0.0,
        "the commands"
    );
}

#[test]
fn live_points_are_announced() {
    let mut options = Options::new(Config::default());
    let point: mms_server::live::LiveSettings =
        toml::from_str("name = \"Radio/One\"\ncommand = [\"sleep\", \"60\"]\n").unwrap();
    options.live = vec![point];
    let server = serve(&common::testdata_dir(), options, admin_settings(None));
    let port = server.addr.port();
    let (status, _, body) = get(
        server.admin(),
        "/radio/one.asx",
        Some("media.example.org"),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("mms://media.example.org:{port}/Radio/One")),
        "{body}"
    );
    let (status, _, _) = get(
        server.admin(),
        "/radio/two.asx",
        Some("media.example.org"),
        &[],
    );
    assert_eq!(status, 404);
}
