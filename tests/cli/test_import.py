"""`dcsim import FORMAT FILE... --out DIR`: public traces in their own formats -> files dcsim reads, run end to end.

Each fixture is written here in the trace's published format (PAI's header-less CSV
tables, Philly's JSON job log, Helios's cluster_log.csv, SWF lines, the Azure LLM request
CSV), with a row for every reason an importer drops one. The expected jobs, counts and
run results are worked out by hand from those rows, written as arithmetic.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from dcsim.cli import main
from dcsim.workload.importers.pai2020 import sharing_modelled

from conftest import SHARED


def cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """Run ``dcsim argv`` in-process; return (status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_input(code: int, err: str, *words: str) -> None:
    """Exit 2 with one ``dcsim import: error:`` line naming ``words``, no traceback."""
    assert code == 2, err
    assert err.startswith("dcsim import: error: "), err
    assert err.count("error:") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def imported(capsys: pytest.CaptureFixture[str], fmt: str, files: list[Path], out: Path) -> str:
    """Import, and return what the command printed."""
    code, printed, err = cli(capsys, "import", fmt, *files, "--out", out)
    assert code == 0, err
    return printed


def run(capsys: pytest.CaptureFixture[str], scenario: Path, tmp_path: Path) -> dict[str, Any]:
    """``dcsim run`` the written scenario; its summary.json."""
    code, _, err = cli(capsys, "run", scenario, "--out", tmp_path / "results", "--quiet")
    assert code == 0, err
    return json.loads((tmp_path / "results" / "summary.json").read_text())


def rows(path: Path) -> dict[str, dict[str, str]]:
    """A written job trace's rows by job id."""
    with open(path, encoding="utf-8") as fh:
        return {r["job_id"]: r for r in csv.DictReader(fh)}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- Alibaba PAI 2020
PAI_JOBS = """\
j1,i1,u1,Terminated,100.0,400.0
j2,i2,u2,Failed,200.0,500.0
j3,i3,u1,Running,300.0,
j4,i4,u3,Terminated,150.0,300.0
j5,i5,u1,Terminated,160.0,900.0
j6,i6,u1,Terminated,160.0,900.0
j7,i7,u1,Terminated,160.0,900.0
j8,i8,u1,Failed,160.0,900.0
j9,i9,u4,Terminated,170.0,900.0
j10,i10,u4,Terminated,9000.0,9900.0
"""
PAI_TASKS = """\
j1,worker,2.0,Terminated,110.0,410.0,400.0,10.0,50.0,V100
j1,ps,1.0,Terminated,105.0,400.0,600.0,20.0,,
j2,tensorflow,1.0,Failed,250.0,3850.0,600.0,29.3,800.0,V100M32
j3,tensorflow,1.0,Running,300.0,,600.0,29.3,100.0,T4
j4,tensorflow,1.0,Terminated,160.0,260.0,600.0,29.3,0.0,
j5,tensorflow,1.0,Terminated,170.0,170.0,600.0,29.3,25.0,T4
j7,tensorflow,1.0,Terminated,500.0,400.0,600.0,29.3,100.0,T4
j8,tensorflow,1.0,Failed,500.0,,600.0,29.3,100.0,T4
j9,tensorflow,4.0,Terminated,180.0,280.0,600.0,29.3,800.0,V100
j10,worker,1.0,Terminated,9010.0,9910.0,200.0,4.0,25.0,T4
"""
PAI_MACHINES = """\
m1,V100,96,512,8
m2,V100,96,512,8
m3,T4,64,256,2
m4,CPU,96,512,0
"""


def pai_files(tmp_path: Path, tasks: str = PAI_TASKS) -> list[Path]:
    return [write(tmp_path / "pai_job_table.csv", PAI_JOBS), write(tmp_path / "pai_task_table.csv", tasks),
            write(tmp_path / "pai_machine_spec.csv", PAI_MACHINES)]  # fmt: skip


def test_pai2020_keeps_jobs_that_ran_drops_each_reason_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten jobs: three kept, seven dropped, each for its own reason; the machines make the data center.

    j1: two workers at 50 % of a GPU + a ps at none = 1 GPU, from its first task start (105)
    to its last task end (410); j2: 800 % = 8 GPUs for 3,850 - 250 s; j10: a quarter GPU,
    held whole, for 900 s. The 16 V100 GPUs are the largest pool: j9 (4 x 800 % = 32) is too large.
    """
    out = tmp_path / "pai"
    printed = imported(capsys, "pai2020", pai_files(tmp_path), out)
    assert "pai2020: read 10, kept 3, dropped 7" in printed
    for reason in ("not finished", "no GPU requested", "ran for no time", "no task in the task table",
                   "ended before it started", "no submission, start or end time recorded",
                   "needs more GPUs than the largest pool of one GPU type (16)"):  # fmt: skip
        assert re.search(f"dropped 1: .*{re.escape(reason)}", printed), (reason, printed)
    jobs = rows(out / "jobs.csv")
    assert sorted(jobs) == ["j1", "j10", "j2"]
    assert (jobs["j1"]["gpus"], float(jobs["j1"]["duration_s"]), jobs["j1"]["tenant"]) == ("1", 410 - 105, "u1")
    assert (jobs["j2"]["gpus"], float(jobs["j2"]["duration_s"])) == ("8", 3850 - 250)
    assert float(jobs["j1"]["cpu_cores"]) == 2 * 400 / 100 + 600 / 100
    assert (jobs["j10"]["gpus"], float(jobs["j10"]["gpu_share"])) == ("1", 0.25)
    assert [float(jobs[j]["submit_s"]) for j in ("j1", "j2", "j10")] == [0, 200 - 100, 9000 - 100]
    if sharing_modelled():  # once dcsim shares GPUs, the jobs ask for their share, cores and bytes as such
        assert (float(jobs["j10"]["gpu_fraction"]), float(jobs["j2"]["gpu_fraction"])) == (0.25, 1)
        assert float(jobs["j10"]["cpu"]) == 2 and float(jobs["j10"]["memory"]) == 4 * 2**30
    scenario = (out / "pai2020.yaml").read_text()
    assert scenario.startswith("# Alibaba PAI 2020") and "Question:" in scenario
    summary = run(capsys, out / "pai2020.yaml", tmp_path)
    assert summary["jobs"]["completed"] == 3
    assert summary["cluster"]["installed_gpus"] == 2 * 8 + 2  # the CPU-only machine left out
    # Nothing waits (8 + 1 GPUs at most at once, on 18): each job's time in the system is its run time.
    assert summary["jobs"]["mean_jct_s"] == pytest.approx(((410 - 105) + (3850 - 250) + (9910 - 9010)) / 3)


def test_pai2020_bad_row_names_file_and_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A word where plan_gpu's number belongs (line 3 of the task table): exit 2, no folder, no leftovers."""
    lines = PAI_TASKS.splitlines()
    lines[2] = lines[2].replace(",800.0,", ",eight,")
    out = tmp_path / "out" / "pai"
    code, _, err = cli(capsys, "import", "pai2020", *pai_files(tmp_path, "\n".join(lines) + "\n"), "--out", out)
    assert_bad_input(code, err, "pai_task_table.csv line 3", "'plan_gpu'", "'eight'")
    assert not (tmp_path / "out").exists()
    rows_short = PAI_TASKS.replace("j2,tensorflow,1.0,", "j2,tensorflow,", 1)
    code, _, err = cli(capsys, "import", "pai2020", *pai_files(tmp_path, rows_short), "--out", out)
    assert_bad_input(code, err, "pai_task_table.csv line 3: 9 fields", "10 per row")


# --------------------------------------------------------------------------- Microsoft Philly
def attempt(start: str | None, end: str | None, machines: dict[str, int]) -> dict[str, Any]:
    detail = [{"ip": ip, "gpus": [f"gpu{k}" for k in range(n)]} for ip, n in machines.items()]
    return {"start_time": start, "end_time": end, "detail": detail}


def philly_job(jobid: str, status: str, submitted: str, attempts: list[dict[str, Any]], vc: str = "vc1") -> str:
    return json.dumps({"status": status, "vc": vc, "jobid": jobid, "attempts": attempts,
                       "submitted_time": submitted, "user": "u" + jobid})  # fmt: skip


def philly_log(path: Path, jobs: list[str]) -> Path:
    """A JSON array, one job a line (line k + 2 is job k)."""
    return write(path, "[\n" + ",\n".join(jobs) + "\n]\n")


PHILLY = [
    philly_job("a1", "Pass", "2017-10-07 01:11:39", [
        attempt("2017-10-07 01:12:09", "2017-10-07 01:13:23", {"m1": 2}),
        attempt("2017-10-07 01:13:30", "2017-10-07 02:13:30", {"m2": 8})]),
    philly_job("a2", "Killed", "2017-10-07 03:00:00", [
        attempt("2017-10-07 03:00:10", "2017-10-07 03:30:10", {"m1": 1})], vc="vc2"),
    philly_job("a3", "Failed", "2017-10-07 05:00:00", [
        attempt("2017-10-07 05:00:00", "2017-10-07 05:10:00", {"m1": 2})], vc="vc2"),
    philly_job("d1", "Killed", "2017-10-07 01:00:00", []),
    philly_job("d2", "Pass", "2017-10-07 01:00:00", [attempt("2017-10-07 01:00:00", None, {"m1": 1})]),
    philly_job("d3", "Pass", "2017-10-07 01:00:00", [attempt(None, "2017-10-07 01:05:00", {"m1": 1}),
                                                     attempt("2017-10-07 01:06:00", "2017-10-07 01:09:00", {"m1": 1})]),
    philly_job("d4", "Pass", "2017-10-07 01:00:00", [attempt("2017-10-07 01:00:00", "2017-10-07 01:05:00", {})]),
    philly_job("d5", "Pass", "2017-10-07 01:00:00", [attempt("2017-10-07 01:05:00", "2017-10-07 01:00:00", {"m1": 1})]),
    philly_job("d6", "Pass", "2017-10-07 01:00:00", [attempt("2017-10-07 01:05:00", "2017-10-07 01:05:00", {"m1": 1})]),
    philly_job("d7", "Pass", "2017-10-07 01:00:00", [attempt("2017-10-07 01:05:00", "2017-10-07 01:06:00",
                                                             {"m2": 8, "m3": 8})]),
]  # fmt: skip


def test_philly_sums_attempts_counts_drops_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """a1 ran twice (74 s on 2 GPUs, then 3,600 s on 8): 8 GPUs for 3,674 s; killed and failed jobs are kept.

    The machine list: one 2-GPU 12 GB machine (P100) and one 8-GPU 24 GB machine (P40); d7's
    16 GPUs exceed the largest pool (8).
    """
    log = philly_log(tmp_path / "cluster_job_log", PHILLY)
    machines = write(tmp_path / "cluster_machine_list", "machineId,number of GPUs,single GPU mem\nm1,2, 12GB\n"
                     "m2,8, 24GB\n")  # fmt: skip
    out = tmp_path / "philly"
    printed = imported(capsys, "philly", [log, machines], out)
    assert "philly: read 10, kept 3, dropped 7" in printed
    for reason in ("never ran", "still running when the log was taken", "a logging error", "no GPU recorded",
                   "ended before it started", "ran for no time", "largest pool of one GPU type (8)"):  # fmt: skip
        assert re.search(f"dropped 1: .*{re.escape(reason)}", printed), (reason, printed)
    jobs = rows(out / "jobs.csv")
    assert sorted(jobs) == ["a1", "a2", "a3"]
    assert (jobs["a1"]["gpus"], float(jobs["a1"]["duration_s"])) == ("8", (1 * 60 + 14) + 3600)
    assert (float(jobs["a1"]["wait_s"]), jobs["a1"]["attempts"]) == (30, "2")
    assert [jobs[j]["tenant"] for j in ("a1", "a2", "a3")] == ["vc1", "vc2", "vc2"]
    assert float(jobs["a3"]["submit_s"]) == (5 * 3600) - (1 * 3600 + 11 * 60 + 39)
    summary = run(capsys, out / "philly.yaml", tmp_path)
    assert summary["jobs"]["completed"] == 3 and summary["cluster"]["installed_gpus"] == 2 + 8
    assert summary["jobs"]["mean_jct_s"] == pytest.approx((3674 + 1800 + 600) / 3)  # they never overlap


def test_philly_bad_job_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A submission time that is not a time, in the third job (line 4); a file cut short."""
    jobs = list(PHILLY)
    jobs[2] = jobs[2].replace('"submitted_time": "2017-10-07 05:00:00"', '"submitted_time": "yesterday"')
    code, _, err = cli(capsys, "import", "philly", philly_log(tmp_path / "log.json", jobs), "--out", tmp_path / "o")
    assert_bad_input(code, err, "log.json line 4", "submitted_time", "'yesterday'")
    cut = write(tmp_path / "cut.json", "[\n" + ",\n".join(PHILLY[:2]) + ",\n" + PHILLY[2][:40])
    code, _, err = cli(capsys, "import", "philly", cut, "--out", tmp_path / "o")
    assert_bad_input(code, err, "cut.json line 4", "not JSON")
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- SenseTime Helios
HELIOS = """\
job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue
11,uA,vcA,1,1,1,COMPLETED,2020-06-09 18:41:01,2020-06-09 18:41:01,2020-06-09 19:41:01,3600,0
12,uB,vcB,4,16,1,FAILED,2020-06-09 18:41:27,2020-06-09 18:41:37,2020-06-09 18:45:46,249,10
13,uC,vcB,8,1,1,CANCELLED,2020-06-09 18:41:28,2020-06-09 18:41:28,2020-06-09 18:51:28,600,0
21,uC,vcB,0,1,1,COMPLETED,2020-06-09 18:41:28,2020-06-09 18:41:28,2020-06-17 14:15:21,675233,0
22,uC,vcB,2,1,1,RUNNING,2020-06-09 18:41:28,2020-06-09 18:41:28,,,0
23,uC,vcB,2,1,1,CANCELLED,2020-06-09 18:42:28,2020-06-09 18:42:28,2020-06-09 18:42:28,0,0
24,uC,vcB,2,1,1,FAILED,2020-06-09 18:42:28,2020-06-09 18:43:28,2020-06-09 18:42:28,-60,0
25,uC,vcB,2,1,1,COMPLETED,,2020-06-09 18:43:28,2020-06-09 18:44:28,60,0
26,uC,vcB,32,1,4,COMPLETED,2020-06-09 18:43:28,2020-06-09 18:43:28,2020-06-09 18:44:28,60,0
"""


def test_helios_keeps_gpu_jobs_that_ended_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three GPU jobs ended (completed, failed, cancelled) and are kept; six are dropped, one per reason.

    The cluster's largest daily total is 16 GPUs: two 8-GPU nodes; job 26's 32 GPUs do not fit.
    """
    log = write(tmp_path / "cluster_log.csv", HELIOS)
    gpus = write(tmp_path / "cluster_gpu_number.csv", "date,vcA,vcB,total\n2020-09-01,8,4,12\n2020-09-02,8,8,16\n")
    out = tmp_path / "helios"
    printed = imported(capsys, "helios", [log, gpus], out)
    assert "helios: read 9, kept 3, dropped 6" in printed
    for reason in ("no GPU", "not ended", "ran for no time", "ended before it started", "no submission time",
                   "needs more GPUs than the largest pool of one GPU type (16)"):  # fmt: skip
        assert re.search(f"dropped 1: .*{re.escape(reason)}", printed), (reason, printed)
    jobs = rows(out / "jobs.csv")
    assert sorted(jobs) == ["11", "12", "13"]
    assert [(jobs[j]["gpus"], float(jobs[j]["duration_s"]), jobs[j]["tenant"]) for j in ("11", "12", "13")] == [
        ("1", 3600, "vcA"), ("4", 249, "vcB"), ("8", 600, "vcB")]  # fmt: skip
    assert float(jobs["12"]["wait_s"]) == 10
    summary = run(capsys, out / "helios.yaml", tmp_path)
    assert summary["cluster"]["installed_gpus"] == 16
    # 1 + 4 + 8 GPUs fit the 16 at once: no job waits, each is in the system for its run time.
    assert summary["jobs"]["completed"] == 3
    assert summary["jobs"]["mean_jct_s"] == pytest.approx((3600 + 249 + 600) / 3)


def test_helios_unknown_state_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write(tmp_path / "cluster_log.csv", HELIOS.replace("FAILED", "EXPLODED", 1))
    code, _, err = cli(capsys, "import", "helios", log, "--out", tmp_path / "o")
    assert_bad_input(code, err, "cluster_log.csv line 3", "'EXPLODED'")


# --------------------------------------------------------------------------- SWF
SWF = """\
; Version: 2.2
; MaxNodes: 4
; MaxProcs: 16
1 0 -1 100 4 -1 -1 -1 200 -1 1 3 -1 -1 -1 -1 -1 -1
2 10 -1 50 16 -1 -1 -1 -1 -1 0 4 -1 -1 -1 -1 -1 -1
3 20 -1 -1 4 -1 -1 -1 -1 -1 5 3 -1 -1 -1 -1 -1 -1
4 30 -1 70 2 -1 -1 -1 -1 -1 2 3 -1 -1 -1 -1 -1 -1
5 40 -1 80 32 -1 -1 -1 -1 -1 1 3 -1 -1 -1 -1 -1 -1
"""


def test_swf_sized_from_header_drops_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """MaxProcs 16 on MaxNodes 4: four 4-GPU nodes. Jobs 1 and 2 run; 3 never ran, 4 is partial, 5 is too large."""
    out = tmp_path / "swf"
    printed = imported(capsys, "swf", [write(tmp_path / "log.swf", SWF)], out)
    assert "swf: read 5, kept 2, dropped 3" in printed
    for reason in ("partial-execution lines", "never ran", "largest pool of one GPU type (16)"):
        assert re.search(f"dropped 1: .*{re.escape(reason)}", printed), (reason, printed)
    assert "5 40 -1 80 32" not in (out / "log.swf").read_text()  # the copy leaves the job that cannot run out
    summary = run(capsys, out / "swf.yaml", tmp_path)
    assert summary["cluster"]["installed_gpus"] == 16 and summary["cluster"]["nodes"] == 4
    # Job 1 (4 GPUs, 0..100 s) and job 2 (16 GPUs from 10 s) cannot overlap: job 2 waits until 100 s.
    assert summary["jobs"]["completed"] == 2
    assert summary["jobs"]["mean_wait_s"] == pytest.approx((0 + (100 - 10)) / 2)


def test_swf_bad_line_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "log.swf", SWF.replace("2 10 -1 50 16 -1 -1 -1 -1 -1 0 4", "2 10 -1 50 16 -1 -1 -1 -1 0 4"))
    code, _, err = cli(capsys, "import", "swf", bad, "--out", tmp_path / "o")
    assert_bad_input(code, err, "log.swf line 5", "17 fields")
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- LLM requests (Azure)
AZURE = """\
TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.9951690,396,109
2023-11-16 18:15:51.0000000,100,0
2023-11-16 18:16:10.5000000,879,1
2023-11-16 18:16:11.5000000,,1
"""


def test_azure_llm_requests_replayed_to_a_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three requests reach the service, far apart: each alone on a replica.

    A request's latency is its prefill (prompt / 30,000 tokens/s) and a decode step of 6 ms
    for each output token after the first; the median of the three is the first request's.
    """
    out = tmp_path / "llm"
    printed = imported(capsys, "azure_llm", [write(tmp_path / "AzureLLMInferenceTrace_conv.csv", AZURE)], out)
    assert "azure_llm: read 5, kept 3, dropped 2" in printed
    assert "dropped 1: generated no token" in printed and "dropped 1: no time or token count" in printed
    with open(out / "requests.csv", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert [float(r["time_s"]) for r in written] == pytest.approx([0, 50.995169 - 46.68059, 70.5 - 46.68059])
    summary = run(capsys, out / "azure_llm.yaml", tmp_path)
    svc = summary["services"]
    assert svc["completed"] == 3
    assert svc["p50_latency_s"] == pytest.approx(374 / 30000 + 43 * 0.006)
    assert svc["mean_ttft_s"] == pytest.approx((374 + 396 + 879) / 30000 / 3)


def test_azure_llm_bad_time_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write(tmp_path / "t.csv", AZURE.replace("2023-11-16 18:15:50.9951690", "noon"))
    code, _, err = cli(capsys, "import", "azure_llm", trace, "--out", tmp_path / "o")
    assert_bad_input(code, err, "t.csv line 3", "TIMESTAMP", "'noon'")


# --------------------------------------------------------------------------- Alibaba DLRM serving (v2025)
DLRM_HEAD = ("instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,rdma_limit,"
             "memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,creation_time,"
             "scheduled_time,deletion_time\n")  # fmt: skip


def dlrm_row(name: str, role: str, gpus: int, created: str, scheduled: str, deleted: str) -> str:
    return f"{name},{role},app_1,12,12,{gpus},{gpus},25,25,120.0,120.0,640.0,800.0,8,{created},{scheduled},{deleted}\n"


DLRM = DLRM_HEAD + "".join([
    dlrm_row("a", "HN", 1, "100.0", "110.0", "1110.0"),
    dlrm_row("b", "HN", 1, "", "", ""),
    dlrm_row("c", "HN", 1, "", "", "500.0"),
    dlrm_row("d", "HN", 1, "200.0", "200.0", ""),
    dlrm_row("e", "CN", 0, "0.0", "0.0", "2000.0"),
    dlrm_row("f", "HN", 1, "300.0", "", ""),
    dlrm_row("g", "HN", 1, "400.0", "400.0", "400.0"),
])  # fmt: skip


def test_dlrm2025_instances_hold_gpus_for_their_lifetimes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Four GPU instances kept, cut by the window clipped to it (the trace ends at 2,000 s, its last time).

    a: 1,110 - 110 s; b existed before and outlived the trace: 0 to 2,000; c: 0 to 500; d: 200
    to the end. At most 4 are held at once (110 to 500 s): one 8-GPU node, and no one waits.
    """
    out = tmp_path / "dlrm"
    printed = imported(capsys, "dlrm2025", [write(tmp_path / "disaggregated_DLRM_trace.csv", DLRM)], out)
    assert "dlrm2025: read 7, kept 4, dropped 3" in printed
    for reason in ("no GPU", "never scheduled", "ended before (or as) it was scheduled"):
        assert re.search(f"dropped 1: .*{re.escape(reason)}", printed), (reason, printed)
    assert "2 GPU instance(s) existed before" in printed and "2 GPU instance(s) outlived" in printed
    jobs = rows(out / "jobs.csv")
    assert {j: float(r["duration_s"]) for j, r in jobs.items()} == {"a": 1000, "b": 2000, "c": 500, "d": 1800}
    summary = run(capsys, out / "dlrm2025.yaml", tmp_path)
    assert summary["cluster"]["installed_gpus"] == 8
    assert summary["jobs"]["mean_wait_s"] == 0
    assert summary["jobs"]["mean_jct_s"] == pytest.approx((1000 + 2000 + 500 + 1800) / 4)


def test_dlrm2025_bad_role_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write(tmp_path / "t.csv", DLRM.replace("\nc,HN,", "\nc,GPU,"))
    code, _, err = cli(capsys, "import", "dlrm2025", trace, "--out", tmp_path / "o")
    assert_bad_input(code, err, "t.csv line 4", "'role'", "'GPU'")


# --------------------------------------------------------------------------- the command
def test_help_lists_every_format_with_its_files(capsys: pytest.CaptureFixture[str]) -> None:
    from dcsim.workload.importers import load_importers

    with pytest.raises(SystemExit):
        main(["import", "--help"])
    text = capsys.readouterr().out
    for name, entry in load_importers().items():
        assert f"  {name} {entry.files}" in text
    assert {"pai2020", "philly", "helios", "swf", "azure_llm", "dlrm2025"} <= set(load_importers())


def test_bad_arguments_are_one_message_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown format (the valid ones listed), too few files, a missing file: exit 2, nothing written."""
    swf = write(tmp_path / "log.swf", SWF)
    out = tmp_path / "o"
    code, _, err = cli(capsys, "import", "slurm", swf, "--out", out)
    assert_bad_input(code, err, "unknown format 'slurm'", "pai2020", "swf")
    code, _, err = cli(capsys, "import", "pai2020", swf, "--out", out)
    assert_bad_input(code, err, "pai2020 takes JOB_TABLE TASK_TABLE [MACHINE_SPEC] (2 to 3 files); 1 given")
    code, _, err = cli(capsys, "import", "swf", swf, swf, "--out", out)
    assert_bad_input(code, err, "swf takes SWF_FILE (1 file); 2 given")
    code, _, err = cli(capsys, "import", "swf", tmp_path / "none.swf", "--out", out)
    assert_bad_input(code, err, "none.swf", "file not found")
    assert not out.exists()


def test_out_folder_with_files_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder that holds files is refused; --force writes into it and keeps the other files."""
    swf = write(tmp_path / "log.swf", SWF)
    out = tmp_path / "o"
    out.mkdir()
    write(out / "mine.txt", "keep me")
    code, _, err = cli(capsys, "import", "swf", swf, "--out", out)
    assert_bad_input(code, err, "--out", "holds files", "--force")
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    code, _, err = cli(capsys, "import", "swf", swf, "--out", out, "--force")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["log.swf", "mine.txt", "swf.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.swf", "o"]  # no temporary folder left


def test_import_refuses_to_overwrite_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    swf = write(tmp_path / "log.swf", SWF)
    code, _, err = cli(capsys, "import", "swf", swf, "--out", tmp_path, "--force")
    assert_bad_input(code, err, "writes log.swf, which is one of the files read")
    assert swf.read_text() == SWF


# --------------------------------------------------------------------------- the real files, when present
TRACES = SHARED / "traces"


@pytest.mark.skipif(not (TRACES / "swf-lublin256").exists(), reason="../shared/traces is not beside this clone")
def test_lublin_256_imports_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Lublin-Feitelson's 10,000 jobs on 256 nodes: every line kept, 256 GPUs; the scenario validates."""
    import numpy as np

    fields = np.loadtxt(TRACES / "swf-lublin256" / "lublin_256.swf", comments=";")
    assert (fields[:, 4] > 0).all() and (fields[:, 3] > 0).all() and (fields[:, 4] <= 256).all()
    printed = imported(capsys, "swf", [TRACES / "swf-lublin256" / "lublin_256.swf"], tmp_path / "l")
    assert f"swf: read {len(fields):,}, kept {len(fields):,}, dropped 0" in printed
    assert "256 GPUs" in printed
    code, out, err = cli(capsys, "validate", tmp_path / "l" / "swf.yaml")
    assert code == 0, err
    assert "256 GPUs on 32 nodes" in out


@pytest.mark.skipif(not (TRACES / "alibaba-gpu-v2020").exists(), reason="../shared/traces is not beside this clone")
def test_pai2020_columns_are_the_published_headers() -> None:
    """The tables the importer reads have the columns of the trace's own .header files, in order."""
    from dcsim.workload.importers import pai2020

    headers = TRACES / "alibaba-gpu-v2020" / "headers"
    for table, columns in (("pai_job_table", pai2020.JOB_COLUMNS), ("pai_task_table", pai2020.TASK_COLUMNS),
                           ("pai_machine_spec", pai2020.MACHINE_COLUMNS)):  # fmt: skip
        assert tuple((headers / f"{table}.header").read_text().strip().split(",")) == columns


@pytest.mark.skipif(not (TRACES / "helios").exists(), reason="../shared/traces is not beside this clone")
def test_helios_outcomes_are_the_states_the_importer_keeps() -> None:
    """The authors' summary sorts every job as completed, cancelled or failed (the shares add up to 1 in each
    cluster): the three outcomes the importer keeps, so only CPU jobs and jobs that never ran are lost."""
    with open(TRACES / "helios" / "helios_cluster_summary.csv", encoding="utf-8") as fh:
        clusters = list(csv.DictReader(fh))
    assert len(clusters) == 5
    for c in clusters:
        assert float(c["complete_rate"]) + float(c["cancel_rate"]) + float(c["fail_rate"]) == pytest.approx(1, abs=2e-3)
        assert int(c["cpu_job_num"]) + int(c["gpu_job_num"]) == int(c["job_num"])


DLRM_FILE = TRACES / "alibaba-gpu-v2025-dlrm" / "disaggregated_DLRM_trace.csv"


@pytest.mark.skipif(not DLRM_FILE.exists(), reason="../shared/traces is not beside this clone")
def test_dlrm2025_real_trace_keeps_every_gpu_instance_with_a_lifetime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Counted independently with pandas: the GPU instances, less those deleted as (or before) scheduled."""
    import pandas as pd

    frame = pd.read_csv(DLRM_FILE)
    gpu = frame[frame["gpu_request"] > 0]
    end = frame[["creation_time", "scheduled_time", "deletion_time"]].max().max()
    ends = gpu["deletion_time"].fillna(end) - gpu["scheduled_time"].fillna(0)
    never = gpu["creation_time"].notna() & gpu["scheduled_time"].isna()
    kept = int(((ends > 0) & ~never).sum())
    printed = imported(capsys, "dlrm2025", [DLRM_FILE], tmp_path / "d")
    assert f"dlrm2025: read {len(frame):,}, kept {kept:,}" in printed
    assert f"dropped {int((frame['gpu_request'] == 0).sum()):,}: no GPU" in printed
