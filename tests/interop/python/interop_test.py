#!/usr/bin/python3
"""Drives a real conveyord from Python with stubs generated from proto/ at test time.

Run with Debian's interpreter, which has python3-grpcio and python3-grpc-tools:

  /usr/bin/python3 tests/interop/python/interop_test.py \
      --conveyord build/server/conveyord --proto-dir proto [unittest args...]

Each test starts its own conveyord (own temp dir, own process group, port 0 plus
--port-file) and stops that PID at teardown, whether the test passed or not.
"""

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

ARGS = None  # Parsed command line, set in main().
pb = None  # Namespace of the generated modules, set by GenerateStubs().

# Long enough for a loaded 2-core CI machine; a healthy run takes well under a second each.
STARTUP_TIMEOUT_S = 30.0
RPC_TIMEOUT_S = 10.0


class _Modules:
    pass


def _Protoc(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        return f"{' '.join(cmd)}:\n{result.stderr}"
    return None


def GenerateStubs(proto_dir, out_dir):
    """Generates Python stubs for proto_dir/conveyor/v1/*.proto into out_dir and imports them.

    Uses grpc_tools.protoc. Debian's python3-grpc-tools bundles libprotoc 3.5.1, which
    rejects proto3 `optional` (admin_service.proto uses it); that one file then falls back to
    the system protoc with grpc_python_plugin, and if those are missing too the admin test
    is skipped with the reason.
    """
    v1 = os.path.join("conveyor", "v1")
    # `-m grpc_tools.protoc` adds grpc_tools' own include dir (google/protobuf/*.proto).
    grpc_tools = [sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir,
                  f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    error = _Protoc(grpc_tools + [os.path.join(v1, name) for name in
                                  ("job.proto", "job_service.proto", "worker_service.proto")])
    if error:
        raise RuntimeError(f"grpc_tools.protoc failed: {error}")
    admin = os.path.join(v1, "admin_service.proto")
    admin_error = _Protoc(grpc_tools + [admin])
    if admin_error:
        protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
        if protoc and plugin:
            admin_error = _Protoc([protoc, "-I", proto_dir, f"--python_out={out_dir}",
                                   f"--grpc_out={out_dir}",
                                   f"--plugin=protoc-gen-grpc={plugin}", admin])
    sys.path.insert(0, out_dir)
    from conveyor.v1 import job_pb2, job_service_pb2, job_service_pb2_grpc  # noqa: E402
    from conveyor.v1 import worker_service_pb2, worker_service_pb2_grpc  # noqa: E402
    modules = _Modules()
    modules.job = job_pb2
    modules.jobs = job_service_pb2
    modules.jobs_grpc = job_service_pb2_grpc
    modules.worker = worker_service_pb2
    modules.worker_grpc = worker_service_pb2_grpc
    modules.admin = modules.admin_grpc = None
    modules.admin_error = admin_error
    if not admin_error:
        from conveyor.v1 import admin_service_pb2, admin_service_pb2_grpc  # noqa: E402
        modules.admin = admin_service_pb2
        modules.admin_grpc = admin_service_pb2_grpc
    return modules


def WaitFor(condition, timeout_s, what):
    """Polls condition() until it returns a truthy value or timeout_s passes (then fails)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


class Conveyord:
    """One conveyord child process with its own data dir; the port comes from --port-file."""

    def __init__(self, binary, work_dir, extra_args=()):
        self.work_dir = work_dir
        self.port_file = os.path.join(work_dir, "port")
        self.log_path = os.path.join(work_dir, "conveyord.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", f"--port-file={self.port_file}",
             f"--data-dir={os.path.join(work_dir, 'data')}", "--drain-grace=1s",
             "--metrics-listen", "", *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.port = WaitFor(self._ReadPort, STARTUP_TIMEOUT_S, "conveyord's --port-file")

    def _ReadPort(self):
        if self.proc.poll() is not None:
            raise AssertionError(
                f"conveyord exited with {self.proc.returncode} before serving:\n{self.Log()}")
        try:
            with open(self.port_file) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        if not text.endswith("\n"):
            return None  # Not a full line yet.
        return int(text.strip())

    def Log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def Stop(self):
        """Stops this PID only: SIGTERM, then SIGKILL if it has not exited within 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class PythonWorker:
    """A minimal worker on WorkerService.Connect: Hello, then one CompleteJob per Assignment.

    The request stream is fed from a queue.Queue; a reader thread handles what the
    coordinator sends and records it for the test to inspect.
    """

    _END = object()

    def __init__(self, channel, name, queues, handler, metadata=None):
        self._requests = queue.Queue()
        self._handler = handler
        self._lock = threading.Lock()
        self.welcome = None
        self.assignments = []
        self.acks = []
        self.error = None
        stub = pb.worker_grpc.WorkerServiceStub(channel)
        self._requests.put(pb.worker.WorkerMessage(
            hello=pb.worker.Hello(name=name, queues=queues, concurrency=1)))
        # A call deadline so a protocol bug cannot hang the test.
        self._call = stub.Connect(self._RequestIterator(), timeout=60, metadata=metadata)
        self._thread = threading.Thread(target=self._Read, name=f"worker-{name}", daemon=True)
        self._thread.start()

    def _RequestIterator(self):
        while True:
            message = self._requests.get()
            if message is self._END:
                return
            yield message

    def _Read(self):
        try:
            for message in self._call:
                kind = message.WhichOneof("kind")
                with self._lock:
                    if kind == "welcome":
                        self.welcome = message.welcome
                    elif kind == "assignment":
                        self.assignments.append(message.assignment)
                    elif kind == "ack":
                        self.acks.append(message.ack)
                if kind == "assignment":
                    a = message.assignment
                    result = self._handler(a.job)
                    self._requests.put(pb.worker.WorkerMessage(complete=pb.worker.CompleteJob(
                        job_id=a.job.id, fencing_token=a.fencing_token, result=result)))
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                self.error = e

    def AcksFor(self, job_id):
        with self._lock:
            return [ack for ack in self.acks if ack.job_id == job_id]

    def Close(self):
        """Half-closes the stream and waits for the coordinator to end it."""
        self._requests.put(self._END)
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            self._call.cancel()
            self._thread.join(timeout=10)


class InteropTest(unittest.TestCase):

    def setUp(self):
        work_dir = tempfile.mkdtemp(prefix="conveyor-interop-py-")
        self.addCleanup(shutil.rmtree, work_dir, ignore_errors=True)
        self.server = Conveyord(ARGS.conveyord, work_dir)
        self.addCleanup(self._StopServer)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.addCleanup(self.channel.close)
        grpc.channel_ready_future(self.channel).result(timeout=RPC_TIMEOUT_S)
        self.jobs = pb.jobs_grpc.JobServiceStub(self.channel)

    def _StopServer(self):
        # unittest records a failure in its result at once; show the server's side of it.
        result = getattr(self._outcome, "result", None)
        failed = result is None or any(
            test is self for test, _ in result.failures + result.errors)
        self.server.Stop()
        if failed:
            sys.stderr.write(f"--- conveyord log ---\n{self.server.Log()}\n")

    def Submit(self, *specs):
        response = self.jobs.Submit(pb.jobs.SubmitRequest(jobs=list(specs)),
                                    timeout=RPC_TIMEOUT_S)
        self.assertEqual(len(response.results), len(specs))
        return [r.id for r in response.results]

    def Get(self, job_id):
        return self.jobs.GetJob(pb.jobs.GetJobRequest(id=job_id), timeout=RPC_TIMEOUT_S)

    def test_submit_with_payload_text_then_get(self):
        ids = self.Submit(
            pb.job.JobSpec(queue="py", type="echo", payload_text="héllo",
                           labels={"lang": "python"}),
            pb.job.JobSpec(queue="py", type="echo", payload=b"\x00\x01", priority=5))
        self.assertGreater(ids[0], 0)
        self.assertGreater(ids[1], ids[0], "ids increase in submission order")

        job = self.Get(ids[0])
        self.assertEqual(job.id, ids[0])
        self.assertEqual(job.queue, "py")
        self.assertEqual(job.type, "echo")
        self.assertEqual(job.payload, "héllo".encode("utf-8"))
        self.assertEqual(dict(job.labels), {"lang": "python"})
        self.assertEqual(job.state, pb.job.JOB_STATE_QUEUED)
        self.assertEqual(job.attempts, 0)
        self.assertEqual(job.max_attempts, 3, "queue default filled in")

        second = self.Get(ids[1])
        self.assertEqual(second.payload, b"\x00\x01")
        self.assertEqual(second.priority, 5)

    def test_get_unknown_job_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.Get(987654)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_submit_malformed_spec_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.Submit(pb.job.JobSpec(queue="bad queue", type="echo"))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_cancel_queued_job(self):
        (job_id,) = self.Submit(pb.job.JobSpec(queue="py", type="echo", payload_text="x"))
        cancelled = self.jobs.CancelJob(
            pb.jobs.CancelJobRequest(id=job_id, reason="not needed"), timeout=RPC_TIMEOUT_S)
        self.assertEqual(cancelled.state, pb.job.JOB_STATE_CANCELLED)
        self.assertEqual(cancelled.cancel_reason, "not needed")
        self.assertEqual(self.Get(job_id).state, pb.job.JOB_STATE_CANCELLED)
        # A terminal job: WaitJob answers at once.
        waited = self.jobs.WaitJob(pb.jobs.WaitJobRequest(id=job_id), timeout=RPC_TIMEOUT_S)
        self.assertEqual(waited.state, pb.job.JOB_STATE_CANCELLED)
        # It has ended, so a second cancel is refused.
        with self.assertRaises(grpc.RpcError) as cm:
            self.jobs.CancelJob(pb.jobs.CancelJobRequest(id=job_id), timeout=RPC_TIMEOUT_S)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)

    def test_wait_on_queued_job_with_short_deadline(self):
        (job_id,) = self.Submit(pb.job.JobSpec(queue="py", type="echo", payload_text="x"))
        with self.assertRaises(grpc.RpcError) as cm:
            self.jobs.WaitJob(pb.jobs.WaitJobRequest(id=job_id), timeout=0.3)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertEqual(self.Get(job_id).state, pb.job.JOB_STATE_QUEUED, "job untouched")

    def test_admin_queue_counts_and_settings(self):
        if pb.admin is None:
            self.skipTest(f"no Python stubs for admin_service.proto: {pb.admin_error}")
        admin = pb.admin_grpc.AdminServiceStub(self.channel)
        self.Submit(pb.job.JobSpec(queue="pyq", type="echo"), pb.job.JobSpec(queue="pyq", type="echo"))
        info = admin.GetQueue(pb.admin.GetQueueRequest(name="pyq"), timeout=RPC_TIMEOUT_S)
        self.assertEqual(info.name, "pyq")
        self.assertEqual(info.queued, 2)
        # proto3 `optional`: only the fields present change.
        updated = admin.UpdateQueue(pb.admin.UpdateQueueRequest(
            name="pyq", settings=pb.admin.QueueSettings(max_attempts=5)), timeout=RPC_TIMEOUT_S)
        self.assertEqual(updated.settings.max_attempts, 5)
        self.assertFalse(updated.settings.paused)

    def test_python_worker_completes_jobs(self):
        # One job waiting before the worker connects, one submitted while it is idle.
        (before,) = self.Submit(pb.job.JobSpec(queue="pyw", type="upper", payload_text="hello"))
        wait_before = self.jobs.WaitJob.future(pb.jobs.WaitJobRequest(id=before), timeout=30)

        worker = PythonWorker(self.channel, "py-worker", ["pyw"],
                              handler=lambda job: job.payload.upper())
        self.addCleanup(worker.Close)

        done = wait_before.result()
        self.assertEqual(done.state, pb.job.JOB_STATE_SUCCEEDED)
        self.assertEqual(done.result, b"HELLO")
        self.assertEqual(done.attempts, 1)
        self.assertEqual(len(done.history), 1)
        self.assertEqual(done.history[0].outcome, pb.job.Attempt.OUTCOME_SUCCEEDED)
        self.assertEqual(done.history[0].worker_name, "py-worker")

        (after,) = self.Submit(pb.job.JobSpec(queue="pyw", type="upper", payload_text="again"))
        done = self.jobs.WaitJob(pb.jobs.WaitJobRequest(id=after), timeout=30)
        self.assertEqual(done.state, pb.job.JOB_STATE_SUCCEEDED)
        self.assertEqual(done.result, b"AGAIN")

        # The protocol as the worker saw it: Welcome, an Assignment per job, an accepted ack each.
        self.assertIsNotNone(worker.welcome)
        self.assertGreater(worker.welcome.worker_id, 0)
        self.assertEqual(worker.welcome.concurrency, 1)
        self.assertEqual([a.job.id for a in worker.assignments], [before, after])
        self.assertEqual(worker.assignments[0].attempt, 1)
        self.assertEqual(worker.assignments[0].job.payload, b"hello")
        for job_id in (before, after):
            acks = WaitFor(lambda: worker.AcksFor(job_id), RPC_TIMEOUT_S, f"ack of job {job_id}")
            self.assertEqual(len(acks), 1)
            self.assertTrue(acks[0].accepted, acks[0].reason)
        worker.Close()
        self.assertIsNone(worker.error)


class TokenInteropTest(unittest.TestCase):
    """A coordinator with --tokens-file: tokens go as `authorization: Bearer` metadata."""

    PRODUCER = "py-producer-token-0123456789"
    WORKER = "py-worker-token-0123456789"

    def setUp(self):
        work_dir = tempfile.mkdtemp(prefix="conveyor-interop-py-")
        self.addCleanup(shutil.rmtree, work_dir, ignore_errors=True)
        tokens = os.path.join(work_dir, "tokens")
        with open(tokens, "w") as f:
            f.write(f"{self.PRODUCER} producer\n{self.WORKER} worker\n")
        self.server = Conveyord(ARGS.conveyord, work_dir, [f"--tokens-file={tokens}"])
        self.addCleanup(self.server.Stop)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.addCleanup(self.channel.close)
        self.jobs = pb.jobs_grpc.JobServiceStub(self.channel)

    @staticmethod
    def Bearer(token):
        return [("authorization", f"Bearer {token}")]

    def test_tokens_decide_who_submits_and_who_works(self):
        request = pb.jobs.SubmitRequest(
            jobs=[pb.job.JobSpec(queue="py", type="echo", payload_text="hi")])
        with self.assertRaises(grpc.RpcError) as missing:
            self.jobs.Submit(request, timeout=RPC_TIMEOUT_S)
        self.assertEqual(missing.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as wrong_role:
            self.jobs.Submit(request, timeout=RPC_TIMEOUT_S, metadata=self.Bearer(self.WORKER))
        self.assertEqual(wrong_role.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        job_id = self.jobs.Submit(request, timeout=RPC_TIMEOUT_S,
                                  metadata=self.Bearer(self.PRODUCER)).results[0].id

        worker = PythonWorker(self.channel, "py-token-worker", ["py"], lambda job: job.payload,
                              metadata=self.Bearer(self.WORKER))
        self.addCleanup(worker.Close)

        def Done():
            job = self.jobs.GetJob(pb.jobs.GetJobRequest(id=job_id), timeout=RPC_TIMEOUT_S,
                                   metadata=self.Bearer(self.PRODUCER))
            return job if job.state == pb.job.JOB_STATE_SUCCEEDED else None

        self.assertEqual(WaitFor(Done, 30, "the job to succeed").result, b"hi")
        self.assertIsNone(worker.error)


def main():
    global ARGS, pb
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conveyord", required=True, help="path to the conveyord binary")
    parser.add_argument("--proto-dir", required=True, help="the repository's proto/ directory")
    ARGS, rest = parser.parse_known_args()
    stub_dir = tempfile.mkdtemp(prefix="conveyor-interop-py-stubs-")
    try:
        pb = GenerateStubs(ARGS.proto_dir, stub_dir)
        program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
        return 0 if program.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(stub_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
