//! The authentication policy of a running server: which opens need
//! identification (the `[auth] protect` globs, over the path as the
//! client named it and as the content root resolved it), who the users
//! are, what the NTLM CHALLENGE says, the randomness the machine needs,
//! and a bound on failed attempts per client address. The protocol — the
//! challenge, the schemes, the cookie, the failures within a session — is
//! the machine's ([`mms_proto::server::ServerMachine::authenticate_open`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use mms_proto::auth::NtHash;
use mms_proto::auth::ntlm::{AcceptorConfig, filetime_from_unix_micros};
use mms_proto::server::{AuthOffer, Authority, UserStore};

use crate::auth_settings::{AuthSettings, Protection};
use crate::config::SettingsError;
use crate::users::Users;

/// Failed attempts one client address may make per [`FAILURE_WINDOW`];
/// past them its protected opens are refused without a look at the
/// credentials until the window ends.
pub const MAX_FAILURES_PER_WINDOW: u32 = 10;
/// The window of [`MAX_FAILURES_PER_WINDOW`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses the failure table holds (the oldest is forgotten
/// first), so that many addresses cannot grow it.
pub const MAX_TRACKED_ADDRESSES: usize = 4096;

/// The NetBIOS-style name the NTLM CHALLENGE gives for the server and its
/// accounts' domain.
const NTLM_NAME: &str = "MMS-RS";

impl UserStore for Users {
    fn nt_hash(&self, user: &str) -> Option<NtHash> {
        Users::nt_hash(self, user)
    }
}

/// `[auth]`, ready to serve.
#[derive(Debug)]
pub struct AuthPolicy {
    users: Users,
    protection: Protection,
    realm: String,
    allow_ntlm_v1: bool,
    offer: AuthOffer,
    failures: Mutex<FailureTable>,
}

impl AuthPolicy {
    /// The policy of `settings` with the users read from its file.
    pub fn new(settings: &AuthSettings, users: Users) -> Result<Self, SettingsError> {
        Ok(Self {
            users,
            protection: settings.protection()?,
            realm: settings.realm.clone(),
            allow_ntlm_v1: settings.allow_ntlm_v1,
            offer: offer(settings),
            failures: Mutex::new(FailureTable::default()),
        })
    }

    /// What the machines offer ([`mms_proto::server::Config::auth`]).
    pub fn offer(&self) -> AuthOffer {
        self.offer
    }

    /// Whether an open needs identification: the path as the client named
    /// it (so that a missing protected file is not told apart from a
    /// present one before identification), or any path the content root
    /// resolved for it (symlinks followed; a playlist and its entries).
    pub(crate) fn protects(&self, name: &str, root: &Path, resolved: &[&Path]) -> bool {
        self.protection
            .protects(Path::new(name.trim_start_matches('/')))
            || resolved
                .iter()
                .any(|p| self.protection.protects_resolved(root, p))
    }

    /// Whether `ip` made too many failed attempts lately.
    pub(crate) fn blocked(&self, ip: IpAddr) -> bool {
        self.table().blocked(ip, Instant::now())
    }

    /// Counts a failed attempt of `ip`.
    pub(crate) fn failed(&self, ip: IpAddr) {
        self.table().failed(ip, Instant::now());
    }

    fn table(&self) -> std::sync::MutexGuard<'_, FailureTable> {
        // A poisoned table is still a table of counts.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What one answer of the machine needs: the users, the names, 8
    /// bytes from the OS's random source and the time. `None` when the OS
    /// gives no randomness (the open is then refused).
    pub(crate) fn authority(&self) -> Option<Authority<'_>> {
        let mut server_challenge = [0u8; 8];
        getrandom::fill(&mut server_challenge).ok()?;
        let unix_micros = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Some(Authority {
            users: &self.users,
            realm: &self.realm,
            ntlm: AcceptorConfig {
                computer_name: NTLM_NAME,
                domain_name: NTLM_NAME,
                allow_ntlm_v1: self.allow_ntlm_v1,
            },
            server_challenge,
            timestamp: filetime_from_unix_micros(unix_micros),
        })
    }
}

/// The machines' [`AuthOffer`] for `[auth]`: the first scheme is the
/// AuthenPackage, the second (if any) is accepted from clients of 8 and
/// later.
pub fn offer(settings: &AuthSettings) -> AuthOffer {
    AuthOffer {
        package: settings.schemes[0].package(),
        second: settings.schemes.get(1).map(|s| s.package()),
        max_failures: settings.max_failures,
    }
}

/// Failed attempts per client address, in windows; bounded.
#[derive(Debug, Default)]
struct FailureTable {
    /// Address → (failures in the window, the window's start).
    by_ip: HashMap<IpAddr, (u32, Instant)>,
}

impl FailureTable {
    fn blocked(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.by_ip.get(&ip) {
            Some(&(n, start)) if now.duration_since(start) < FAILURE_WINDOW => {
                n >= MAX_FAILURES_PER_WINDOW
            }
            Some(_) => {
                self.by_ip.remove(&ip);
                false
            }
            None => false,
        }
    }

    fn failed(&mut self, ip: IpAddr, now: Instant) {
        if !self.by_ip.contains_key(&ip) && self.by_ip.len() >= MAX_TRACKED_ADDRESSES {
            self.by_ip
                .retain(|_, (_, start)| now.duration_since(*start) < FAILURE_WINDOW);
            if self.by_ip.len() >= MAX_TRACKED_ADDRESSES {
                let oldest = self
                    .by_ip
                    .iter()
                    .min_by_key(|(_, (_, s))| *s)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.by_ip.remove(&k);
                }
            }
        }
        let e = self.by_ip.entry(ip).or_insert((0, now));
        if now.duration_since(e.1) >= FAILURE_WINDOW {
            *e = (0, now);
        }
        e.0 = e.0.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_address_in_windows_and_bounded() {
        let mut t = FailureTable::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES_PER_WINDOW {
            assert!(!t.blocked(a, t0));
            t.failed(a, t0);
        }
        assert!(t.blocked(a, t0) && !t.blocked(b, t0));
        // The window ends: a may try again.
        assert!(!t.blocked(a, t0 + FAILURE_WINDOW));
        // Many addresses: the table stays bounded.
        for i in 0..(MAX_TRACKED_ADDRESSES as u32 + 100) {
            t.failed(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(t.by_ip.len() <= MAX_TRACKED_ADDRESSES);
    }

    #[test]
    fn protection_by_name_and_by_resolved_path() {
        let s: crate::config::Settings =
            toml::from_str("[auth]\nusers = \"u\"\nprotect = [\"private/**\"]\n").unwrap();
        let p = AuthPolicy::new(s.auth.as_ref().unwrap(), Users::default()).unwrap();
        let root = Path::new("/srv");
        assert!(p.protects("/private/missing.wma", root, &[]));
        assert!(p.protects("pub/link.wma", root, &[Path::new("/srv/private/a.wma")]));
        assert!(!p.protects("pub/a.wma", root, &[Path::new("/srv/pub/a.wma")]));
        assert_eq!(
            p.offer().package,
            mms_proto::wire::text::AuthenPackage::Ntlm
        );
    }
}
