#!/usr/bin/env python3
"""livewatch and urlwatch 2.29 side by side: CPU per check on the same ~1 MB live-blog pages.

A page server on 127.0.0.1 serves BLOGS generated live-blog pages (/b/0 … /b/N-1, see
page.py) in one of three modes:

  unchanged  the same bytes on every request
  noise      a fresh script nonce and ad token and "Updated N min ago" outside the posts
             on every request (what real live blogs do)
  new        one more post at the top on every request (HTML and JSON-LD), noise fixed

For each mode, with a fresh state each time:

  urlwatch   one baseline run over all URLs, then ROUNDS runs (one `urlwatch` process per
             round, as from cron); CPU = getrusage(RUSAGE_CHILDREN) user+sys per run
  livewatch  `livewatch run` with every URL at the interval (adaptive off), its baseline
             polls, then ROUNDS rounds of polls; CPU = utime+stime of the daemon
             (/proc/PID/stat) from the end of one round to the end of the next

CPU per check = CPU of the round / requests the server answered in it. No gzip (the
server sends identity bodies), no ETag or Last-Modified (every check is a full 200).

    python3 -m venv /tmp/urlwatch-venv && /tmp/urlwatch-venv/bin/pip install urlwatch==2.29
    python3 bench/urlwatch/bench.py --urlwatch /tmp/urlwatch-venv/bin/urlwatch \\
        --livewatch target/release/livewatch --runs 2
"""

import argparse
import http.server
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import page  # noqa: E402

MODES = ("unchanged", "noise", "new")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- page server

class Pages:
    """The blogs, the mode, and the count of requests answered per mode since the last reset."""

    def __init__(self, blogs, base, seed):
        self.blogs = [page.Blog(i, "%s/b/%d" % (base, i), seed=seed) for i in range(blogs)]
        self.fixed = [b.render() for b in self.blogs]  # mode `unchanged`: the same bytes every time
        self.lock = threading.Lock()
        self.mode = "unchanged"
        self.per_blog = [0] * blogs
        self.count = 0  # requests of /b/N whose body was sent completely
        self.inflight = 0
        self.other = 0  # requests of anything else (there should be none)
        self.served = {m: 0 for m in MODES}

    def reset(self, mode):
        with self.lock:
            self.mode = mode
            self.per_blog = [0] * len(self.blogs)
            self.count = 0

    def body(self, i):
        with self.lock:
            mode = self.mode
            k = self.per_blog[i]
            self.per_blog[i] += 1
            self.inflight += 1
        b = self.blogs[i]
        if mode == "unchanged":
            return self.fixed[i]
        if mode == "noise":
            n = k + 1
            token = "%08x%08x" % (hash((i, n, "nonce")) & 0xFFFFFFFF, hash((n, i)) & 0xFFFFFFFF)
            return b.render(nonce=token[:12], adtoken=token[4:], updated="Updated %d min ago" % (1 + n % 59))
        return b.render(new=k)

    def done(self, ok):
        with self.lock:
            self.inflight -= 1
            if ok:
                self.count += 1
                self.served[self.mode] += 1

    def snapshot(self):
        with self.lock:
            return self.count, self.inflight


def serve(holder):
    """The server, bound now; it serves holder[0] (a Pages, set once the port is known)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections

        def do_GET(self):
            pages = holder[0]
            m = re.fullmatch(r"/b/(\d+)", self.path)
            if not m or int(m.group(1)) >= len(pages.blogs):
                with pages.lock:
                    pages.other += 1
                self.send_error(404)
                return
            body = pages.body(int(m.group(1)))
            ok = False
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(body)
                ok = True
            finally:
                pages.done(ok)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    return srv


# ---------------------------------------------------------------- urlwatch

URLWATCH_CONFIG = """\
display:
  new: true
  error: true
  unchanged: false
  empty-diff: true
report:
  text:
    details: true
    footer: true
    minimal: false
  stdout:
    enabled: true
    color: false
"""


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_urlwatch(exe, pages, base, mode, rounds, work, filt=None, hooks=None):
    """Baseline + rounds of `urlwatch` over every URL; per round: CPU s, checks, reported, wall s."""
    d = tempfile.mkdtemp(prefix="urlwatch-%s-" % mode, dir=work)
    urls = os.path.join(d, "urls.yaml")
    with open(urls, "w") as f:
        job = "name: blog %d\nurl: %s/b/%d\n" + ("filter: %s\n" % filt if filt else "")
        f.write("---\n".join(job % (i, base, i) for i in range(len(pages.blogs))))
    with open(os.path.join(d, "urlwatch.yaml"), "w") as f:
        f.write(URLWATCH_CONFIG)
    if hooks:
        shutil.copyfile(hooks, os.path.join(d, "hooks.py"))
    cmd = [exe, "--urls", urls, "--config", os.path.join(d, "urlwatch.yaml"),
           "--hooks", os.path.join(d, "hooks.py"), "--cache", os.path.join(d, "cache.db")]
    env = dict(os.environ, HOME=d, XDG_CONFIG_HOME=d, XDG_CACHE_HOME=d)
    pages.reset(mode)
    out = []
    maxrss = 0.0
    for r in range(rounds + 1):
        n0, _ = pages.snapshot()
        c0 = children_cpu()
        t0 = time.monotonic()
        report = os.path.join(d, "report-%d.txt" % r)
        with open(report, "wb") as so, open(os.path.join(d, "stderr-%d.txt" % r), "wb") as se:
            p = subprocess.Popen(cmd, stdout=so, stderr=se, env=env)
            _, status, usage = os.wait4(p.pid, 0)  # this child's own rusage (for its peak RSS)
            p.returncode = rc = os.waitstatus_to_exitcode(status)
        maxrss = max(maxrss, usage.ru_maxrss / 1024)
        wall = time.monotonic() - t0
        cpu = children_cpu() - c0
        n1, _ = pages.snapshot()
        with open(report, encoding="utf-8", errors="replace") as f:
            text = f.read()
        kinds = {k: len(re.findall(r"^\d+\. %s: " % k, text, re.M)) for k in ("NEW", "CHANGED", "ERROR")}
        if rc != 0 or kinds["ERROR"]:
            sys.exit("urlwatch failed (exit %d, %d errors); see %s" % (rc, kinds["ERROR"], d))
        if r > 0:  # round 0 is the baseline
            out.append({"cpu": cpu, "checks": n1 - n0, "reported": kinds["CHANGED"] + kinds["NEW"], "wall": wall})
    cache = os.path.getsize(os.path.join(d, "cache.db"))
    shutil.rmtree(d)
    return out, {"cache_mib": cache / 2**20, "peak_rss_mib": maxrss}


def urlwatch_startup(exe, work, n=3):
    """CPU of `urlwatch --list` (interpreter start, imports, config and job list): per process."""
    d = tempfile.mkdtemp(prefix="urlwatch-list-", dir=work)
    urls = os.path.join(d, "urls.yaml")
    with open(urls, "w") as f:
        f.write("name: x\nurl: http://127.0.0.1:9/\n")
    with open(os.path.join(d, "urlwatch.yaml"), "w") as f:
        f.write(URLWATCH_CONFIG)
    env = dict(os.environ, HOME=d, XDG_CONFIG_HOME=d, XDG_CACHE_HOME=d)
    cpus = []
    for _ in range(n):
        c0 = children_cpu()
        subprocess.run([exe, "--urls", urls, "--config", os.path.join(d, "urlwatch.yaml"),
                        "--hooks", os.path.join(d, "hooks.py"), "--cache", os.path.join(d, "cache.db"), "--list"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        cpus.append(children_cpu() - c0)
    shutil.rmtree(d)
    return statistics.median(cpus)


# ---------------------------------------------------------------- livewatch

def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB → MiB
    return 0.0


def wait_idle(pid, pages, quiet=0.4, timeout=8.0):
    """Until no request is in flight and the daemon has used no CPU tick for `quiet` s."""
    end = time.monotonic() + timeout
    last = proc_cpu(pid)
    since = time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.05)
        c = proc_cpu(pid)
        _, inflight = pages.snapshot()
        if c != last or inflight:
            last, since = c, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return c
    return proc_cpu(pid)


def wait_count(pages, n, timeout, proc):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if pages.snapshot()[0] >= n:
            return True
        time.sleep(0.02)
    return False


def run_livewatch(exe, pages, base, mode, rounds, interval, work):
    """`livewatch run` over every URL; per round: CPU s, checks, events, wall s."""
    d = tempfile.mkdtemp(prefix="livewatch-%s-" % mode, dir=work)
    cfg = os.path.join(d, "livewatch.toml")
    with open(cfg, "w") as f:
        f.write('state_dir = "%s"\nper_host = 8\n\n' % os.path.join(d, "state"))
        for i in range(len(pages.blogs)):
            f.write('[[watch]]\nurl = "%s/b/%d"\ninterval = "%ds"\nadaptive = false\n\n' % (base, i, interval))
        f.write('[[notifier]]\nname = "out"\ntype = "stdout"\njson = true\nburst = 0\n')
    events = os.path.join(d, "events.jsonl")
    log = os.path.join(d, "livewatch.log")
    n = len(pages.blogs)
    pages.reset(mode)
    with open(events, "wb") as so, open(log, "wb") as se:
        proc = subprocess.Popen([exe, "run", "--config", cfg], stdout=so, stderr=se)
    out = []
    try:
        if not wait_count(pages, n, 60, proc):
            raise RuntimeError("livewatch: baseline polls did not come (exit %s); see %s" % (proc.poll(), log))
        c0 = wait_idle(proc.pid, pages)
        n0, _ = pages.snapshot()
        e0 = _new_events(events)
        t0 = time.monotonic()
        for r in range(rounds):
            if not wait_count(pages, n0 + n, interval * 2 + 30, proc):
                raise RuntimeError("livewatch: round %d incomplete (%d of %d polls; exit %s); see %s"
                                   % (r + 1, pages.snapshot()[0] - n0, n, proc.poll(), log))
            c1 = wait_idle(proc.pid, pages)
            n1, _ = pages.snapshot()
            e1 = _new_events(events)
            t1 = time.monotonic()
            out.append({"cpu": c1 - c0, "checks": n1 - n0, "reported": e1 - e0, "wall": t1 - t0})
            c0, n0, e0, t0 = c1, n1, e1, t1
        hwm = proc_status(proc.pid, "VmHWM")
        rss = proc_status(proc.pid, "VmRSS")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(d)
    return out, {"peak_rss_mib": hwm, "rss_end_mib": rss}


def _new_events(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if '"kind":"new"' in line.replace(" ", ""))


# ---------------------------------------------------------------- report

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d cores (nproc), %s, %s %s" % (os.cpu_count(), model, platform.system(), platform.release())


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip() or "?"
    except OSError as e:
        return "? (%s)" % e


def per_check_ms(rounds):
    return [1000 * r["cpu"] / r["checks"] for r in rounds if r["checks"]]


def table(results, modes):
    lines = ["| mode | urlwatch ms CPU/check | livewatch ms CPU/check | ratio (urlwatch / livewatch) |",
             "|---|---|---|---|"]
    for m in modes:
        u = results.get(("urlwatch", m))
        lw = results.get(("livewatch", m))
        cell = lambda v: "%.2f (%.2f–%.2f)" % (statistics.median(v), min(v), max(v)) if v else "–"
        ratio = "%.1f×" % (statistics.median(u) / statistics.median(lw)) if u and lw and statistics.median(lw) > 0 else "–"
        lines.append("| %s | %s | %s | %s |" % (m, cell(u), cell(lw), ratio))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--urlwatch", default=shutil.which("urlwatch"), help="urlwatch 2.29 executable (default: on PATH)")
    ap.add_argument("--livewatch", help="livewatch executable (a release build)")
    ap.add_argument("--blogs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5, help="rounds measured per mode, after the baseline")
    ap.add_argument("--runs", type=int, default=1, help="repeat everything; the table gives medians over all rounds of all runs")
    ap.add_argument("--interval", type=int, default=10, help="livewatch's poll interval, seconds")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--urlwatch-filter", metavar="FILTER", help="a filter on every urlwatch job, e.g. html2text (default: none, the raw page)")
    ap.add_argument("--urlwatch-hooks", metavar="FILE", help="a hooks.py for every urlwatch run (e.g. bench/urlwatch/no_empty_close_matches.py)")
    ap.add_argument("--only", choices=("urlwatch", "livewatch"), help="run one of the two")
    ap.add_argument("--json", help="write every round's figures to this file")
    a = ap.parse_args()
    modes = [m for m in a.modes.split(",") if m]
    if any(m not in MODES for m in modes):
        ap.error("--modes: one of %s" % ", ".join(MODES))
    tools = [t for t in ("urlwatch", "livewatch") if a.only in (None, t)]
    if "urlwatch" in tools and not a.urlwatch:
        ap.error("--urlwatch PATH: no urlwatch on PATH (pip install urlwatch==2.29 into a venv)")
    if "livewatch" in tools and not a.livewatch:
        ap.error("--livewatch PATH is needed (or --only urlwatch)")

    work = tempfile.mkdtemp(prefix="uw-bench-")
    holder = [None]
    srv = serve(holder)
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    t = time.monotonic()
    pages = Pages(a.blogs, base, a.seed)  # the pages carry their own URLs (JSON-LD @id, canonical)
    gen = time.monotonic() - t
    holder[0] = pages
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    sizes = [len(b) for b in pages.fixed]
    print("machine: %s; load average %s" % (machine(), " ".join("%.2f" % x for x in os.getloadavg())))
    print("python %s; %s; %s" % (platform.python_version(),
                                 version([a.urlwatch, "--version"]) if "urlwatch" in tools else "urlwatch not run",
                                 version([a.livewatch, "--version"]) if "livewatch" in tools else "livewatch not run"))
    if a.urlwatch_filter:
        print("urlwatch jobs: filter: %s" % a.urlwatch_filter)
    if a.urlwatch_hooks:
        print("urlwatch hooks: %s" % a.urlwatch_hooks)
    print("pages: %d blogs, %.3f MiB mean (%.3f–%.3f), %d posts each, generated in %.1f s; %s"
          % (a.blogs, statistics.mean(sizes) / 2**20, min(sizes) / 2**20, max(sizes) / 2**20, page.POSTS, gen, base))
    if "urlwatch" in tools:
        print("urlwatch start-up alone (`urlwatch --list`): %.0f ms CPU per process" % (1000 * urlwatch_startup(a.urlwatch, work)))
    sys.stdout.flush()

    results = {}
    rows = []
    started = time.monotonic()
    for run in range(a.runs):
        for m in modes:
            for tool in tools:
                if tool == "urlwatch":
                    rounds, extra = run_urlwatch(a.urlwatch, pages, base, m, a.rounds, work, a.urlwatch_filter, a.urlwatch_hooks)
                else:
                    rounds, extra = run_livewatch(a.livewatch, pages, base, m, a.rounds, a.interval, work)
                v = per_check_ms(rounds)
                results.setdefault((tool, m), []).extend(v)
                rows.append({"run": run + 1, "tool": tool, "mode": m, "rounds": rounds, **extra})
                print("run %d %-9s %-9s ms CPU/check per round: %s; checks %s; reported %s; wall %s s; %s"
                      % (run + 1, tool, m, " ".join("%.2f" % x for x in v),
                         "/".join(str(r["checks"]) for r in rounds),
                         "/".join(str(r["reported"]) for r in rounds),
                         "/".join("%.1f" % r["wall"] for r in rounds),
                         ", ".join("%s %.1f" % kv for kv in extra.items())))
                sys.stdout.flush()
    srv.shutdown()
    shutil.rmtree(work, ignore_errors=True)
    if pages.other:
        print("note: %d requests of other paths (404)" % pages.other)
    print()
    print("median (min–max) over %d run(s) × %d rounds; load average at the end %s; %.0f s in all"
          % (a.runs, a.rounds, " ".join("%.2f" % x for x in os.getloadavg()), time.monotonic() - started))
    print(table(results, modes))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
