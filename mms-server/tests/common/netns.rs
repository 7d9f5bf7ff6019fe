//! Network namespaces for the UDP delivery tests: a namespace of its own
//! (`ip netns add`, loopback up), packet loss by nftables inside it (this
//! kernel has no netem: `numgen random mod 100 < N drop`), a server bound
//! inside it by a thread that entered it (`setns`), and commands run
//! inside it (`ip netns exec`). The namespace is removed when the handle
//! drops, also when the test fails. Needs root (CI runs as root) and the
//! `ip` and `nft` commands `cargo xtask deps` installs.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mms_server::content::ContentRoot;
use mms_server::{Options, Server};

/// A network namespace, removed on drop.
pub struct Netns {
    pub name: String,
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("{what}: {e} (run `cargo xtask deps`: it installs iproute2 and nftables)")
    });
    assert!(
        out.status.success(),
        "{what} failed (root is needed for network namespaces; CI runs as root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// A fresh namespace with its loopback up.
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "mmsrs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        run(
            Command::new("ip").args(["netns", "add", &name]),
            "ip netns add",
        );
        let ns = Netns { name };
        run(
            Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]),
            "ip link set lo up",
        );
        ns
    }

    /// nftables rules in the namespace's input path (`rule` after the
    /// chain's header, e.g. `meta l4proto udp numgen random mod 100 < 20 drop`).
    pub fn nft_input(&self, rule: &str) {
        let script = format!(
            "table inet mmsrs {{\n  chain input {{\n    type filter hook input priority 0;\n    {rule}\n  }}\n}}\n"
        );
        let mut child = self
            .exec("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("nft: {e} (run `cargo xtask deps`)"));
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let ok = child.wait().unwrap().success();
        assert!(ok, "nft refused {script:?} (run `cargo xtask deps`)");
    }

    /// `program` run inside the namespace.
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Serves `dir` on 127.0.0.1 inside the namespace (a thread that
    /// entered it binds the sockets; the server's loops use them from
    /// there).
    pub fn serve(&self, dir: &Path, options: Options) -> InNetns {
        let path = format!("/var/run/netns/{}", self.name);
        let root = ContentRoot::new(dir).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).expect("the namespace's file");
            // Only this thread moves; sockets it binds stay in the namespace.
            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let server = Server::bind("127.0.0.1:0".parse().unwrap(), root, options).unwrap();
            tx.send(server.local_addr().unwrap()).unwrap();
            server.run(&flag)
        });
        let addr = rx.recv().expect("the server bound in the namespace");
        InNetns {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A server running in a namespace; stopped on drop.
pub struct InNetns {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for InNetns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
