#!/usr/bin/env python3
"""Serves the bare repositories under --root over git's smart HTTP, through `git http-backend`
as CGI, on 127.0.0.1 only, to clients that send HTTP Basic credentials --user:--password.
The port (chosen by the system) is written to --port-file once the server listens. For tests
of pushing and fetching with credentials; standard library only.

    python3 git-http-server.py --root DIR --user U --password P --port-file FILE
"""

import argparse
import base64
import hmac
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

REALM = 'Basic realm="flagstaff-test"'


class GitHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and "100 Continue" for clients that expect it
    root = user = password = ""  # set in main()

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def serve(self):
        # The body is read first even when refused, so the connection stays in step.
        body = self.read_body()
        if not self.authorised():
            self.send_response(401)
            self.send_header("WWW-Authenticate", REALM)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        url = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            # The repositories may belong to another user than the one running the tests.
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*",
            "REMOTE_USER": self.user,
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(url.path),
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(body.seek(0, os.SEEK_END)),
        }
        body.seek(0)
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding", "").lower() in ("gzip", "x-gzip"):
            env["HTTP_CONTENT_ENCODING"] = "gzip"
        with body, subprocess.Popen(["git", "http-backend"], env=env, stdin=body, stdout=subprocess.PIPE) as cgi:
            status, headers = 200, []
            for line in iter(cgi.stdout.readline, b""):
                line = line.rstrip(b"\r\n").decode("latin-1")
                if not line:
                    break
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if not any(name.lower() == "content-length" for name, _ in headers):
                # No length to tell: the end of the body is the end of the connection.
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            shutil.copyfileobj(cgi.stdout, self.wfile)

    def read_body(self):
        """The request body, de-chunked, in a file: the CGI reads it from start to end with no
        chance of a pipe deadlock against its output."""
        body = tempfile.TemporaryFile()
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                body.write(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after the chunk
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
        elif length := int(self.headers.get("Content-Length") or 0):
            body.write(self.rfile.read(length))
        return body

    def authorised(self):
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except ValueError:
            return False
        expected = f"{self.user}:{self.password}".encode()
        return scheme.lower() == "basic" and hmac.compare_digest(given, expected)

    def log_request(self, code="-", size="-"):
        sys.stderr.write(f"git-http-server: {self.command} {self.path} {int(code)}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("--root", "--user", "--password", "--port-file"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    # A child inherits its parent thread's signal mask, and Dispatch's worker threads block
    # SIGTERM: unblocked, a test's terminate() stops the server.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    GitHandler.root = os.path.abspath(args.root)
    GitHandler.user, GitHandler.password = args.user, args.password
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHandler)
    # Written whole or not at all: a reader never sees half a port.
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(temporary, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
