"""Network namespaces for tapir's live tests: make them, wire them with veth
pairs and a Linux vxlan device, run commands and tapir inside them, and
remove all of it at the end, also when a test fails or is killed.

    lab = Lab("vx")                     # names end in the pid: unique
    try:
        a, t = lab.netns("a"), lab.netns("t")
        lab.veth(a, "eth0", t, "eth0")
        a.addr("eth0", "10.1.0.1/24"); t.addr("eth0", "10.1.0.2/24")
        tp = t.start_tapir(tapir, workdir, {"sources": [...]})
        ...
    finally:
        lab.close()                     # processes, namespaces, devices

Every device is made inside a namespace (`ip link add ... netns NS`), never
in the caller's, so deleting the namespaces removes every device, and two
runs at once cannot collide on a name.  A namespace is deleted only after
every process started in it has ended; `Lab.close` checks that none of its
namespaces is left.  A run killed with SIGKILL leaves its namespaces
behind: the next Lab removes those whose owning pid is gone.

Standard library only.
"""

import atexit
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77
PREFIX = "tapir-live-"
RUN_NETNS = "/run/netns"


class LabError(Exception):
    """A set-up step failed: the message names the command and its error."""


def wait_for(pred, timeout, what, interval=0.02, proc=None):
    """Poll pred() until it returns a true value (which is returned), at
    most timeout seconds; then raise LabError naming what was awaited.
    With proc (a Popen-like object with poll()), stop early when it has
    exited."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise LabError("%s: the process exited with status %s first" %
                           (what, proc.poll()))
        if time.monotonic() >= end:
            raise LabError("timed out after %.1f s waiting for %s" %
                           (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)


def sh(cmd, timeout=60, check=True, input=None):
    """Run cmd (a list), return the CompletedProcess (text).  With check, a
    non-zero exit raises LabError with the command and its stderr."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, input=input, text=True)
    if check and p.returncode != 0:
        raise LabError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                             p.stderr.strip()[:500]))
    return p


def can_run():
    """None when this process can make namespaces, else the reason."""
    if os.geteuid() != 0:
        return "the live tests need root (network namespaces, veth, tc)"
    for tool in ("ip", "tc", "ss"):
        if shutil.which(tool) is None:
            return "%s is not installed (scripts/deps.sh installs iproute2)" \
                % tool
    name = "%sprobe-%d" % (PREFIX, os.getpid())
    p = sh(["ip", "netns", "add", name], check=False)
    if p.returncode != 0:
        return "cannot make a network namespace: %s" % p.stderr.strip()
    sh(["ip", "netns", "del", name], check=False)
    return None


def skip_unless_able(extra_tools=()):
    """Exit 77 with a SKIP line when the live tests cannot run here."""
    why = can_run()
    if why is None:
        for t in extra_tools:
            if shutil.which(t) is None:
                why = "%s is not installed (scripts/deps.sh installs it)" % t
                break
    if why:
        print("SKIP: %s" % why)
        sys.exit(SKIP)


def _pid_alive(pid):
    """Whether pid runs (a zombie, killed and not yet reaped, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def sweep_stale():
    """Remove the namespaces of earlier runs whose process is gone (a run
    killed with SIGKILL cannot clean up after itself).  Returns their
    names."""
    gone = []
    try:
        names = os.listdir(RUN_NETNS)
    except FileNotFoundError:
        return gone
    for n in names:
        m = re.match(re.escape(PREFIX) + r"[a-z]+-(\d+)-", n)
        if not m or _pid_alive(int(m.group(1))):
            continue
        # Processes a dead run left in it were started by this harness.
        p = sh(["ip", "netns", "pids", n], check=False)
        for pid in p.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh(["ip", "netns", "del", n], check=False)
        gone.append(n)
    return gone


class Proc:
    """A process started in a namespace.  Output goes to files under the
    lab's directory so that a long-running one never blocks on a pipe."""

    def __init__(self, ns, name, cmd, popen, out, err):
        self.ns, self.name, self.cmd = ns, name, cmd
        self.p, self.out_path, self.err_path = popen, out, err
        self.pid = popen.pid

    def poll(self):
        return self.p.poll()

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def send(self, sig):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Send sig and wait; SIGKILL after timeout.  Returns the exit
        status (negative: killed by that signal) and whether it ended
        within timeout."""
        if self.p.poll() is not None:
            return self.p.returncode, True
        self.send(sig)
        rc = self.wait(timeout)
        if rc is not None:
            return rc, True
        self.send(signal.SIGCONT)
        self.send(signal.SIGKILL)
        return self.p.wait(), False

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait_output(self, pattern, timeout, stream="stdout"):
        """Wait until the output matches the regex; return the match."""
        rx = re.compile(pattern, re.M)
        get = self.stdout if stream == "stdout" else self.stderr
        return wait_for(lambda: rx.search(get()), timeout,
                        "%s to print /%s/ (%s so far: %r)" %
                        (self.name, pattern, stream, get()[-300:]),
                        proc=self.p)


class Netns:
    def __init__(self, lab, role):
        self.lab, self.role = lab, role
        self.name = "%s%s-%d-%s" % (PREFIX, lab.tag, os.getpid(), role)

    def __str__(self):
        return self.name

    def exec_prefix(self):
        return ["ip", "netns", "exec", self.name]

    def run(self, cmd, timeout=60, check=True, input=None):
        """Run cmd in this namespace and wait for it."""
        return sh(self.exec_prefix() + list(cmd), timeout=timeout,
                  check=check, input=input)

    def ip(self, *args, check=True):
        return sh(["ip", "-n", self.name] + [str(a) for a in args],
                  check=check)

    def tc(self, *args, check=True):
        return sh(["tc", "-n", self.name] + [str(a) for a in args],
                  check=check)

    def sysctl(self, key, value):
        self.run(["sysctl", "-q", "-w", "%s=%s" % (key, value)])

    def quiet(self, ifname):
        """No multicast on the device: it would send IGMP reports at times
        of its own choosing, frames of no flow in every capture."""
        self.ip("link", "set", ifname, "multicast", "off")

    def up(self, ifname):
        self.ip("link", "set", ifname, "up")

    def addr(self, ifname, cidr):
        self.ip("addr", "add", cidr, "dev", ifname)
        self.up(ifname)

    def vxlan(self, name, vni, remote, local, dev, port=4789):
        """A Linux vxlan device that sends every frame given to it to
        remote:port (the all-zero FDB entry that `remote` makes), learns
        nothing, and sends no multicast of its own."""
        self.ip("link", "add", name, "type", "vxlan", "id", vni, "remote",
                remote, "local", local, "dstport", port, "dev", dev,
                "nolearning")
        self.quiet(name)
        self.up(name)

    def no_offloads(self, ifname):
        """One packet per skb on this device: gso_max_segs 1 keeps TCP from
        handing it 64 KB segments that a capture on the way would see as
        one frame.  (ethtool -K tso/gso off does the same; ethtool is not
        installed everywhere.)"""
        self.ip("link", "set", ifname, "gso_max_segs", 1)

    def popen(self, cmd, name=None, env=None, cwd=None):
        """Start cmd in this namespace; the lab stops it at the end."""
        name = name or os.path.basename(cmd[0])
        n = self.lab.nproc = self.lab.nproc + 1
        base = os.path.join(self.lab.dir, "%02d-%s-%s" % (n, self.role,
                                                         name))
        out, err = base + ".out", base + ".err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen(self.exec_prefix() + list(cmd), stdout=fo,
                                 stderr=fe, stdin=subprocess.DEVNULL,
                                 env=env, cwd=cwd)
        pr = Proc(self, name, cmd, p, out, err)
        self.lab.procs.append(pr)
        return pr

    def python(self, script, *args, name=None):
        """Start a Python helper script (tests/live/traffic.py ...)."""
        return self.popen([sys.executable, "-u", script] + [str(a) for a in
                                                            args],
                          name=name or os.path.basename(script))

    # --- what the kernel of this namespace says

    def udp_bound(self, port):
        out = self.run(["ss", "-H", "-uln", "sport", "=", ":%d" % port]).stdout
        return out.strip() != ""

    def tcp_listening(self, port):
        out = self.run(["ss", "-H", "-tln", "sport", "=", ":%d" % port]).stdout
        return out.strip() != ""

    def packet_sockets(self, pid, ifname):
        """How many AF_PACKET sockets process pid has bound to ifname."""
        out = self.run(["ss", "-H", "-0", "-p"]).stdout
        n = 0
        for line in out.splitlines():
            if "pid=%d," % pid in line and \
                    re.search(r"\*:%s\b" % re.escape(ifname), line):
                n += 1
        return n

    def mac(self, ifname):
        return json.loads(self.ip("-j", "link", "show", ifname).stdout)[0][
            "address"]

    def link_stats(self, ifname):
        """rx/tx packets, bytes, drops of a device (ip -s -j)."""
        out = self.ip("-s", "-j", "link", "show", ifname).stdout
        st = json.loads(out)[0]["stats64"]
        return st

    def snmp(self, proto="Udp"):
        """/proc/net/snmp counters of this namespace: {name: value}."""
        text = self.run(["cat", "/proc/net/snmp"]).stdout
        rows = [l.split() for l in text.splitlines()
                if l.startswith(proto + ":")]
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0][1:], (int(x) for x in rows[1][1:])))

    def start_tapir(self, tapir, workdir, config=None, args=(), name="tapir"):
        """Start `tapir run` in this namespace with config (a dict, written
        as YAML to workdir/tapir.yaml) and extra arguments.  Returns a
        TapirProc; its logs go to config['log.dir'] (default
        workdir/logs)."""
        os.makedirs(workdir, exist_ok=True)
        cfg = dict(config or {})
        cfg.setdefault("log.dir", os.path.join(workdir, "logs"))
        path = os.path.join(workdir, "%s.yaml" % name)
        with open(path, "w") as f:
            f.write(to_yaml(cfg))
        cmd = [tapir, "run", "-c", path] + list(args)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=1:halt_on_error=1")
        env.setdefault("UBSAN_OPTIONS",
                       "halt_on_error=1:abort_on_error=1:print_stacktrace=1")
        pr = self.popen(cmd, name=name, env=env, cwd=workdir)
        return TapirProc(pr, cfg["log.dir"], path)


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))          # a JSON string is a YAML string


def to_yaml(cfg):
    """A flat dict of dotted keys to YAML; a list of dicts (sources) as a
    block list of flow mappings."""
    lines = []
    for k, v in cfg.items():
        if isinstance(v, list):
            lines.append("%s:" % k)
            for item in v:
                if isinstance(item, dict):
                    lines.append("  - {%s}" % ", ".join(
                        "%s: %s" % (ik, _yaml_scalar(iv))
                        for ik, iv in item.items()))
                else:
                    lines.append("  - %s" % _yaml_scalar(item))
            if not v:
                lines[-1] += " []"
        else:
            lines.append("%s: %s" % (k, _yaml_scalar(v)))
    return "\n".join(lines) + "\n"


class TapirProc:
    """A running `tapir run` and its log folder."""

    def __init__(self, proc, logdir, cfgpath):
        self.proc, self.logdir, self.cfgpath = proc, logdir, cfgpath
        self.pid = proc.pid
        self.ns = proc.ns

    def poll(self):
        return self.proc.poll()

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        return self.proc.stderr()

    def wait_udp(self, port, timeout=20):
        wait_for(lambda: self.ns.udp_bound(port), timeout,
                 "tapir to bind UDP port %d" % port, proc=self.proc)

    def wait_tcp(self, port, timeout=20):
        wait_for(lambda: self.ns.tcp_listening(port), timeout,
                 "tapir to listen on TCP port %d" % port, proc=self.proc)

    def wait_afpacket(self, ifname, n=1, timeout=20):
        wait_for(lambda: self.ns.packet_sockets(self.pid, ifname) >= n,
                 timeout, "tapir to bind %d packet socket(s) to %s" %
                 (n, ifname), proc=self.proc)

    def wait_stats(self, pred, timeout, what):
        """Poll stats.log until pred(last line) is true; return that line."""
        def check():
            s = self.last_stats()
            return s if s is not None and pred(s) else None
        try:
            return wait_for(check, timeout, what, proc=self.proc)
        except LabError as e:
            raise LabError("%s; last stats line: %s" % (e, self._brief()))

    def _brief(self):
        s = self.last_stats() or {}
        return json.dumps({k: s.get(k) for k in (
            "packets", "socket_drops", "ring_drops", "queue_drops")})

    def wait_settled(self, pred, timeout, what, quiet=3.0):
        """Poll stats.log until pred(last line) holds, or until its
        'packets' has not moved for quiet seconds (a counter that tapir
        only learns at exit cannot hold us up for the whole timeout).
        Returns whether pred held."""
        state = {"n": None, "since": time.monotonic()}

        def check():
            s = self.last_stats()
            if s is None:
                return False
            if pred(s):
                return "pred"
            now = time.monotonic()
            if s.get("packets") != state["n"]:
                state["n"], state["since"] = s.get("packets"), now
            elif now - state["since"] >= quiet:
                return "quiet"
            return False
        return wait_for(check, timeout, what, proc=self.proc) == "pred"

    def stop(self, sig=signal.SIGTERM, timeout=30):
        return self.proc.stop(sig, timeout)

    def log(self, name):
        return os.path.join(self.logdir, name)

    def log_files(self, name):
        """The files of one log, oldest first: those rotated away
        (NAME.OPEN_CLOSE.log, Zeek's naming, whose dates sort in time
        order; tapir rotates on SIGHUP, on log.rotate and at exit) and
        then the open NAME.log."""
        rotated = sorted(glob.glob(os.path.join(glob.escape(self.logdir),
                                                name + ".*_*.log")))
        cur = self.log(name + ".log")
        return rotated + ([cur] if os.path.exists(cur) else [])

    def read_jsonl(self, name):
        """Every record of log NAME ("conn", "stats" ...) across its
        rotated files."""
        out = []
        for f in self.log_files(name):
            out += read_jsonl(f)
        return out

    def stats_lines(self):
        return self.read_jsonl("stats")

    def last_stats(self):
        try:
            lines = self.stats_lines()
        except ValueError:
            # A line being written; the next poll reads it whole.
            return None
        return lines[-1] if lines else None

    def final_stats(self):
        """The last stats.log line of a stopped tapir, {} when there is
        none; ValueError when a line is not JSON."""
        lines = self.stats_lines()
        return lines[-1] if lines else {}

    def conns(self):
        return self.read_jsonl("conn")


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(json.loads(line))
    return out


class Lab:
    """A set of namespaces and the processes started in them."""

    _live = []

    def __init__(self, tag, workdir=None):
        self.tag = re.sub(r"[^a-z]", "", tag.lower())[:8] or "lab"
        self.spaces = []
        self.procs = []
        self.nproc = 0
        self.closed = False
        self.dir = workdir or os.path.join(
            "/tmp", "%s%s-%d" % (PREFIX, self.tag, os.getpid()))
        os.makedirs(self.dir, exist_ok=True)
        for n in sweep_stale():
            print("     removed a namespace left by a killed run: %s" % n)
        Lab._live.append(self)
        _install_handlers()

    def netns(self, role):
        ns = Netns(self, role)
        sh(["ip", "netns", "add", ns.name])
        self.spaces.append(ns)
        ns.ip("link", "set", "lo", "up")
        # No IPv6: its neighbour discovery and MLD reports would be frames
        # of no flow in every capture.
        for k in ("all", "default"):
            ns.sysctl("net.ipv6.conf.%s.disable_ipv6" % k, 1)
        return ns

    def veth(self, ns1, if1, ns2, if2, mtu=None):
        """A veth pair with one end in each namespace, both up."""
        sh(["ip", "link", "add", if1, "netns", ns1.name, "type", "veth",
            "peer", "name", if2, "netns", ns2.name])
        for ns, ifn in ((ns1, if1), (ns2, if2)):
            ns.quiet(ifn)
            if mtu:
                ns.ip("link", "set", ifn, "mtu", mtu)
            ns.up(ifn)

    def static_arp(self, ns1, if1, ip1, ns2, if2, ip2):
        """Permanent neighbour entries both ways across a link, so that no
        ARP crosses it: counters on it then count the traffic alone."""
        ns1.ip("neigh", "replace", ip2, "lladdr", ns2.mac(if2), "dev", if1,
               "nud", "permanent")
        ns2.ip("neigh", "replace", ip1, "lladdr", ns1.mac(if1), "dev", if2,
               "nud", "permanent")

    def close(self):
        """Stop every process (SIGTERM, then SIGKILL), delete every
        namespace (and with it every device).  Safe to call twice.
        Returns the names of namespaces that could not be deleted."""
        if self.closed:
            return []
        self.closed = True
        for pr in reversed(self.procs):
            if pr.poll() is None:
                pr.stop(signal.SIGTERM, timeout=5)
        left = []
        for ns in reversed(self.spaces):
            # Whatever a helper forked and left behind in the namespace.
            p = sh(["ip", "netns", "pids", ns.name], check=False)
            for pid in p.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh(["ip", "netns", "del", ns.name], check=False)
            if os.path.exists(os.path.join(RUN_NETNS, ns.name)):
                left.append(ns.name)
        if self in Lab._live:
            Lab._live.remove(self)
        if left:
            print("     could not delete namespaces: %s" % ", ".join(left))
        return left

    def remove_dir(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _close_all():
    for lab in list(Lab._live):
        lab.close()


_handlers = []


def _install_handlers():
    if _handlers:
        return
    _handlers.append(True)
    atexit.register(_close_all)

    def on_signal(sig, frame):
        # SystemExit unwinds through the tests' finally blocks.
        signal.signal(sig, signal.SIG_DFL)
        raise SystemExit(128 + sig)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

