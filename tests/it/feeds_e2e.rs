//! The HTTP endpoint of the real daemon over the guardian timeline: Atom and JSON feeds
//! checked by a real feed client (Python feedparser), conditional GET, pagination,
//! `/blogs`, and the `/events` Server-Sent Events stream with `Last-Event-ID` resume.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::http::{get, get_ok};
use common::*;

const NAME: &str = "guardian";
/// Polls per step: a removal needs two, plus one.
const POLLS: usize = 3;
const EDITED: &str = "block-646211b28f08e408b758af3c";
const CORRECTED: &str = "block-64620ea98f08e408b758af03";
const REMOVED: &str = "block-64620e828f08e408b758af02";

fn config(url: &str, port: u16) -> String {
    format!(
        r#"
listen = "127.0.0.1:{port}"

[[watch]]
url = "{url}"
interval = "200ms"
adaptive = false

[[notifier]]
name = "out"
type = "stdout"
json = true
"#
    )
}

fn wait_http(port: u16) {
    assert!(
        wait_for(Duration::from_secs(20), || get(port, "/blogs", &[])
            .is_ok_and(|r| r.status == 200)),
        "the HTTP endpoint did not come up"
    );
}

/// Move to step `n` and wait for `POLLS` more polls at that step than before.
fn step(server: &TimelineServer, n: usize) {
    server.advance_more(NAME, n, POLLS);
}

/// Wait until the daemon has printed `n` events; returns them.
fn wait_events(out: &Path, n: usize) -> Vec<serde_json::Value> {
    assert!(
        wait_for(Duration::from_secs(20), || read_jsonl(out).len() >= n),
        "expected {n} events on stdout, got:\n{}",
        std::fs::read_to_string(out).unwrap_or_default()
    );
    read_jsonl(out)
}

/// Checks run by feedparser (Atom) and against the JSON Feed 1.1 spec (feedparser 6.0
/// does not read JSON Feed): every snapshot parses cleanly, entry ids stay the same,
/// edits move `updated` and carry the new text, corrections are marked, removed posts
/// leave.
const CHECK_FEEDS: &str = r#"
import json, sys, datetime
import feedparser

d = sys.argv[1]
EDITED, CORRECTED, REMOVED = sys.argv[2:5]

def one(ids, suffix):
    hits = [i for i in ids if i.endswith('/' + suffix)]
    assert len(hits) == 1, (suffix, ids)
    return hits[0]

# Atom, with feedparser.
atom = [feedparser.parse(open(f'{d}/a{i}.xml', 'rb').read()) for i in (1, 2, 3)]
for i, f in enumerate(atom, 1):
    assert f.bozo == 0, (i, f.get('bozo_exception'))
    assert f.version == 'atom10', f.version
    assert f.feed.title, f.feed
    assert len(f.entries) >= 8, len(f.entries)
    for e in f.entries:
        assert e.id.startswith('tag:livewatch,2026:'), e.id
        assert e.updated_parsed and e.published_parsed, e
    pubs = [e.published_parsed for e in f.entries]
    assert pubs == sorted(pubs, reverse=True), 'newest first'
by = [{e.id: e for e in f.entries} for f in atom]
assert set(by[0]) <= set(by[1]), 'ids of a poll stay in the next'
assert set(by[1]) - {one(by[1], REMOVED)} <= set(by[2]), 'only the removed post left'
ed = one(by[0], EDITED)
assert ed in by[1]
before, after = by[0][ed], by[1][ed]
assert after.updated_parsed > before.updated_parsed, (before.updated, after.updated)
assert 'Ukrainan' in before.content[0].value and 'Ukrainian president' in after.content[0].value
assert 'Ukrainan' not in after.content[0].value
assert after.published_parsed == before.published_parsed
co = by[2][one(by[2], CORRECTED)]
assert co.title.startswith('Correction: '), co.title
assert 'correction' in [t.term for t in co.tags], co.tags
assert 'long-range missiles and attack drones' in co.content[0].value
assert not any(i.endswith('/' + REMOVED) for i in by[2]), 'removed post still in the feed'
plain = [e for e in atom[2].entries if not e.id.endswith('/' + CORRECTED)]
assert not any(e.title.startswith('Correction: ') for e in plain)

# JSON Feed 1.1.
def date(s):
    return datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))
js = [json.load(open(f'{d}/j{i}.json')) for i in (1, 2, 3)]
for f in js:
    assert f['version'] == 'https://jsonfeed.org/version/1.1'
    assert isinstance(f['title'], str) and f['title']
    assert f['feed_url'].startswith('http://') and f['home_page_url'].startswith('http://')
    for it in f['items']:
        assert isinstance(it['id'], str) and it['id'].startswith('tag:livewatch,2026:')
        assert isinstance(it.get('content_text'), str)
        date(it['date_published']); date(it['date_modified'])
        for k in it:
            assert k in ('id', 'url', 'title', 'content_text', 'date_published', 'date_modified', 'authors', 'tags') or k.startswith('_'), k
jby = [{it['id']: it for it in f['items']} for f in js]
assert set(jby[0]) == set(by[0]) and set(jby[1]) == set(by[1]) and set(jby[2]) == set(by[2]), 'same ids as Atom'
b, a = jby[0][ed], jby[1][ed]
assert date(a['date_modified']) > date(b['date_modified'])
assert 'Ukrainian president' in a['content_text'] and 'Ukrainan' not in a['content_text']
c = jby[2][one(jby[2], CORRECTED)]
assert c['title'].startswith('Correction: ') and 'correction' in c['tags']
print('feeds ok:', [len(f.entries) for f in atom])
"#;

/// A Python 3 that has feedparser: `python3` on `PATH`, else Debian's `/usr/bin/python3`
/// (where `python3-feedparser` installs it, when `PATH` leads to another Python). Fails
/// naming the package when there is none.
fn feed_python() -> std::path::PathBuf {
    let has_feedparser = |py: &Path| {
        Command::new(py)
            .args(["-c", "import feedparser"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let candidates = common::find_program("python3")
        .into_iter()
        .chain([std::path::PathBuf::from("/usr/bin/python3")]);
    let mut tried = Vec::new();
    for py in candidates {
        if has_feedparser(&py) {
            return py;
        }
        tried.push(py.display().to_string());
    }
    panic!(
        "the feed test needs Python 3 with feedparser (a real feed client); none of [{}] has \
         it: `apt-get install python3 python3-feedparser` (or `pip install feedparser`; \
         scripts/test installs it)",
        tried.join(", ")
    )
}

#[test]
fn feeds_follow_the_timeline_and_pass_feedparser() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[NAME]);
    let port = free_port();
    let cfg = write_config(dir.path(), &config(&server.url(NAME), port));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    wait_http(port);
    for n in 0..3 {
        step(&server, n);
    }
    wait_events(&out, 1);

    // /blogs: the slug rule and the feed URLs.
    let blogs: serde_json::Value = serde_json::from_str(&get_ok(port, "/blogs").body).unwrap();
    let b = &blogs.as_array().expect("a JSON array")[0];
    assert_eq!(b["slug"], "guardian", "{blogs}");
    assert_eq!(b["url"], server.url(NAME).as_str());
    assert_eq!(b["posts"], 9, "{blogs}");
    assert!(b["status"].as_str().unwrap().starts_with("ok"), "{blogs}");
    assert_eq!(
        b["feeds"]["atom"],
        format!("http://127.0.0.1:{port}/blogs/guardian/feed.atom").as_str()
    );
    let atom_path = "/blogs/guardian/feed.atom";
    let json_path = "/blogs/guardian/feed.json";

    let save = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
    let a1 = get_ok(port, atom_path);
    assert!(a1
        .header("content-type")
        .unwrap()
        .starts_with("application/atom+xml"));
    save("a1.xml", &a1.body);
    let j1 = get_ok(port, json_path);
    assert!(j1
        .header("content-type")
        .unwrap()
        .starts_with("application/feed+json"));
    save("j1.json", &j1.body);

    // Conditional GET: the same ETag while nothing changes, a 304 for it.
    let etag = a1.header("etag").expect("an ETag").to_string();
    let r = get(port, atom_path, &[("If-None-Match", &etag)]).unwrap();
    assert_eq!(r.status, 304, "{}", r.body);
    assert!(r.body.is_empty());
    let jetag = j1.header("etag").unwrap().to_string();
    assert_eq!(
        get(port, json_path, &[("If-None-Match", &jetag)])
            .unwrap()
            .status,
        304
    );
    assert_eq!(
        get(port, atom_path, &[("If-None-Match", "\"other\"")])
            .unwrap()
            .status,
        200
    );

    // Pagination: pages of 3 cover the feed without overlap, with a next link.
    let all = get_ok(port, "/blogs/guardian/feed.json?limit=100");
    let all: serde_json::Value = serde_json::from_str(&all.body).unwrap();
    let all_ids: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(all_ids.len(), 9);
    let mut paged = Vec::new();
    let mut next = Some("/blogs/guardian/feed.json?limit=3".to_string());
    while let Some(path) = next {
        let p: serde_json::Value = serde_json::from_str(&get_ok(port, &path).body).unwrap();
        let items = p["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        paged.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        next = p["next_url"].as_str().map(|u| {
            u.strip_prefix(&format!("http://127.0.0.1:{port}"))
                .unwrap()
                .to_string()
        });
    }
    assert_eq!(paged, all_ids, "pages concatenate to the whole feed");
    let p2 = get_ok(port, "/blogs/guardian/feed.atom?limit=2&page=2");
    assert_eq!(p2.body.matches("<entry>").count(), 2);
    assert!(p2.body.contains("rel=\"next\""));
    assert_eq!(
        get(port, "/blogs/guardian/feed.atom?limit=0", &[])
            .unwrap()
            .status,
        400
    );
    assert_eq!(get(port, "/blogs/nope/feed.atom", &[]).unwrap().status, 404);

    // The edit (step 3) changes the feed: the old ETag no longer matches.
    step(&server, 3);
    wait_events(&out, 2);
    let a2 = get(port, atom_path, &[("If-None-Match", &etag)]).unwrap();
    assert_eq!(a2.status, 200, "the edit must change the feed");
    save("a2.xml", &a2.body);
    save("j2.json", &get_ok(port, json_path).body);

    // The rest: a correction (6) and a removal (9).
    for n in 4..TimelineServer::steps(NAME) {
        step(&server, n);
    }
    wait_events(&out, 6);
    let a3 = get_ok(port, atom_path);
    save("a3.xml", &a3.body);
    save("j3.json", &get_ok(port, json_path).body);

    // The all-blogs feed carries the same entries.
    let all_atom = get_ok(port, "/feed.atom");
    assert_eq!(
        all_atom.body.matches("<entry>").count(),
        a3.body.matches("<entry>").count()
    );
    let all_json: serde_json::Value =
        serde_json::from_str(&get_ok(port, "/feed.json").body).unwrap();
    assert!(all_json["items"][0]["tags"]
        .as_array()
        .unwrap()
        .contains(&"guardian".into()));

    let check = dir.path().join("check_feeds.py");
    std::fs::write(&check, CHECK_FEEDS).unwrap();
    let res = Command::new(feed_python())
        .arg(&check)
        .arg(dir.path())
        .args([EDITED, CORRECTED, REMOVED])
        .output()
        .expect("python3 runs");
    assert!(
        res.status.success(),
        "feed check failed:\n{}",
        output_text(&res)
    );

    // After a restart the feed is byte-identical: same ETag, 304.
    let etag3 = a3.header("etag").unwrap().to_string();
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
    let mut d = run_daemon(&cfg, &state, &out);
    wait_http(port);
    let r = get(port, atom_path, &[("If-None-Match", &etag3)]).unwrap();
    assert_eq!(r.status, 304, "entry ids and feed stable across a restart");
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
}

/// A Server-Sent Events client on a raw socket. HTTP/1.0, so the body is the plain
/// stream (no chunked framing) until the server closes.
struct SseClient {
    reader: BufReader<TcpStream>,
    buf: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
struct SseEvent {
    id: String,
    kind: String,
    data: String,
}

impl SseClient {
    fn connect(port: u16, last_id: Option<&str>) -> SseClient {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut req =
            "GET /events HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n".to_string();
        if let Some(id) = last_id {
            req.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut c = SseClient {
            reader: BufReader::new(s),
            buf: Vec::new(),
        };
        // The response head: once it is here, the stream's start point is fixed.
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = c.line(deadline).expect("a status line");
        assert!(status.contains(" 200"), "{status}");
        let mut ctype = String::new();
        loop {
            let l = c.line(deadline).expect("headers");
            if l.is_empty() {
                break;
            }
            if l.to_ascii_lowercase().starts_with("content-type:") {
                ctype = l;
            }
        }
        assert!(ctype.contains("text/event-stream"), "{ctype}");
        c
    }

    /// The next line (without CR LF), or None at the deadline or end of stream.
    fn line(&mut self, deadline: Instant) -> Option<String> {
        loop {
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) if self.buf.ends_with(b"\n") => {
                    let l = String::from_utf8_lossy(&self.buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    self.buf.clear();
                    return Some(l);
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }

    /// The next event (comments and keep-alives skipped).
    fn next(&mut self, deadline: Instant) -> Option<SseEvent> {
        let mut e = SseEvent {
            id: String::new(),
            kind: String::new(),
            data: String::new(),
        };
        loop {
            let l = self.line(deadline)?;
            if l.is_empty() {
                if !e.data.is_empty() {
                    return Some(e);
                }
                continue;
            }
            match l.split_once(':') {
                Some(("", _)) => {}
                Some(("id", v)) => e.id = v.trim_start().to_string(),
                Some(("event", v)) => e.kind = v.trim_start().to_string(),
                Some(("data", v)) => e.data.push_str(v.strip_prefix(' ').unwrap_or(v)),
                _ => {}
            }
        }
    }

    fn take(&mut self, n: usize, timeout: Duration) -> Vec<SseEvent> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            match self.next(deadline) {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }
}

fn ids_kinds(v: &[serde_json::Value]) -> Vec<(String, String)> {
    v.iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn sse_ids_kinds(v: &[SseEvent]) -> Vec<(String, String)> {
    v.iter().map(|e| (e.id.clone(), e.kind.clone())).collect()
}

#[test]
fn event_stream_delivers_every_event_once_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[NAME]);
    let port = free_port();
    let cfg = write_config(dir.path(), &config(&server.url(NAME), port));
    let out = dir.path().join("events.jsonl");
    let mut d = run_daemon(&cfg, &dir.path().join("state"), &out);
    wait_http(port);
    step(&server, 0);

    // A: connected for the whole run, read on its own thread.
    let mut a = SseClient::connect(port, None);
    let reader = std::thread::spawn(move || a.take(6, Duration::from_secs(120)));
    // B: connected now, leaves after two events, comes back later.
    let mut b = SseClient::connect(port, None);

    for n in 1..=3 {
        step(&server, n);
    }
    let b1 = b.take(2, Duration::from_secs(20));
    assert_eq!(b1.len(), 2, "{b1:?}");
    drop(b);
    for n in 4..=7 {
        step(&server, n);
    }
    // Three events happened while B was away (new, correction, edit).
    wait_events(&out, 5);
    let mut b = SseClient::connect(port, Some(&b1[1].id));
    let b2 = b.take(3, Duration::from_secs(20));
    for n in 8..TimelineServer::steps(NAME) {
        step(&server, n);
    }
    let b3 = b.take(1, Duration::from_secs(20));
    let live = wait_events(&out, 6);
    let a = reader.join().unwrap();

    // A got every event once, in commit order, with the JSON the daemon printed.
    assert_eq!(sse_ids_kinds(&a), ids_kinds(&live), "stream vs stdout");
    for (s, e) in a.iter().zip(&live) {
        let data: serde_json::Value = serde_json::from_str(&s.data).unwrap();
        assert_eq!(&data, e);
    }
    let a_file = dir.path().join("sse.jsonl");
    let lines: Vec<&str> = a.iter().map(|e| e.data.as_str()).collect();
    std::fs::write(&a_file, lines.join("\n") + "\n").unwrap();
    let (ok, report) = timeline_check(NAME, &a_file, None);
    assert!(ok, "{report}");

    // B: before + missed + after = everything, no gap and no repeat.
    let mut got = b1.clone();
    got.extend(b2.iter().cloned());
    got.extend(b3.iter().cloned());
    assert_eq!(b2.len(), 3, "the events missed while away: {b2:?}");
    assert_eq!(sse_ids_kinds(&got), ids_kinds(&live));

    // An unknown Last-Event-ID: only new events (none now), no error.
    let mut c = SseClient::connect(port, Some("evt_unknown"));
    assert!(c.take(1, Duration::from_millis(600)).is_empty());

    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
}
