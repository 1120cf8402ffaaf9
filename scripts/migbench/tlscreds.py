"""x509 credentials for migration over TLS, made per run with openssl.

make(dir) writes a throw-away CA and a server and a client certificate
signed by it, in the layout QEMU's tls-creds-x509 object reads
(ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem,
client-key.pem).  The server certificate names 127.0.0.1 and localhost, the
addresses the harness migrates to; both ends verify their peer (mutual
TLS), as a production setup would.
"""
import os
import subprocess

CREDS_ID = "tls0"
# The run's credentials only need to outlive the run.
DAYS = "2"

_EXT = {
    "ca": "basicConstraints=critical,CA:TRUE\n"
          "keyUsage=critical,keyCertSign,cRLSign\n",
    "server": "basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth\n"
              "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    "client": "basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=clientAuth\n",
}


def _openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()[-300:]))


def make(directory):
    """Write the CA and both certificates into `directory`; returns it."""
    os.makedirs(directory, exist_ok=True)
    for name, text in _EXT.items():
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write(text)
    _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem",
              "-out", "ca-cert.pem", "-days", DAYS, "-subj", "/CN=migbench test CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)
    for side, cn in (("server", "localhost"), ("client", "migbench-source")):
        _openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", side + "-key.pem",
                  "-out", side + ".csr", "-subj", "/CN=" + cn], directory)
        _openssl(["x509", "-req", "-in", side + ".csr", "-CA", "ca-cert.pem",
                  "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", side + "-cert.pem",
                  "-days", DAYS, "-extfile", side + ".ext"], directory)
    return directory


def qemu_args(directory, endpoint):
    """The -object for one side ('server': the destination, 'client': the
    source); [] without TLS."""
    if not directory:
        return []
    return ["-object", "tls-creds-x509,id=%s,dir=%s,endpoint=%s,verify-peer=on"
            % (CREDS_ID, directory, endpoint)]
