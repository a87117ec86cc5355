//! `cyoa serve --lan`: this machine's address on its local network, and
//! whether a public URL is one that only this machine can reach.
//!
//! The address is the one the kernel would send from towards a private
//! address: a UDP socket is `connect`ed (which only picks a route; no packet
//! is sent) and its local address read. No network call, no dependency;
//! IPv4 only, the address phones on a venue's Wi-Fi use.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// Private addresses to route towards, one in each private range: the
/// first route that exists gives the address (the default route first,
/// through 10.x, then a network with no default route).
const PROBES: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 254, 254, 254),
    Ipv4Addr::new(172, 31, 254, 254),
    Ipv4Addr::new(192, 168, 254, 254),
];

/// This machine's IPv4 address on its local network, if it is on one.
pub fn address() -> Option<IpAddr> {
    PROBES.iter().find_map(|probe| {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
        socket.connect((*probe, 9)).ok()?;
        let ip = socket.local_addr().ok()?.ip();
        (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
    })
}

/// The address to listen on for `--lan`: every interface, at the port of
/// `bind` (`127.0.0.1:8080` gives `0.0.0.0:8080`).
pub fn every_interface(bind: &str) -> Result<SocketAddr, String> {
    let port = bind
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .ok_or_else(|| format!("--lan takes the port from --bind, and {bind:?} has none (say 127.0.0.1:8080)"))?;
    Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
}

/// Whether `url`'s host is this machine only (`127.0.0.0/8`, `::1`,
/// `localhost`): phones cannot reach it.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_told_apart() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:8080",
            "https://app.localhost",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://192.168.1.20:8080",
            "https://vote.example.org",
            "http://[fe80::1]:80",
            "http://localhost.example.org",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn lan_listens_everywhere_on_binds_port() {
        assert_eq!(every_interface("127.0.0.1:8080"), Ok("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(every_interface("[::1]:0"), Ok("0.0.0.0:0".parse().unwrap()));
        assert!(every_interface("localhost").is_err());
    }
}
