#!/usr/bin/env bash
# Throwaway certificates for the TLS tests (openssl from Debian). Never use them for anything else.
#   scripts/services/tls-certs.sh DIR
# Writes into DIR (created; existing files replaced):
#   ca.pem, ca.key              the test CA
#   server.pem, server.key      signed by the CA; SAN: DNS localhost, DNS milvus.test, IP 127.0.0.1
#                               (not ::1: the tests reach the server by ::1 to check tls.serverName)
#   client.pem, client.key      signed by the CA (mutual TLS), CN mm-test-client
#   other-ca.pem, other-ca.key  a second, unrelated CA (the "wrong CA" cases)
# Keys are unencrypted (EC P-256), the certificates valid for 2 days. Takes well under a second.
set -euo pipefail
dir="${1:?usage: $0 DIR}"
mkdir -p "$dir"
cd "$dir"
command -v openssl >/dev/null || { echo "tls-certs: openssl not found (apt-get install openssl)" >&2; exit 1; }

q() { "$@" >/dev/null 2>&1 || { echo "tls-certs: failed: $*" >&2; "$@"; exit 1; }; }

make_ca() { # NAME CN
    q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 2 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$1.key" -out "$1.pem"
}

sign() { # NAME CN EXTFILE
    q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -subj "/CN=$2" -keyout "$1.key" -out "$1.csr"
    q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256 \
        -extfile "$3" -out "$1.pem"
    rm -f "$1.csr"
}

make_ca ca "milvus-migration test CA"
make_ca other-ca "milvus-migration other test CA"

cat >server.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:milvus.test,IP:127.0.0.1
EOF
cat >client.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EOF
sign server "milvus.test" server.ext
sign client "mm-test-client" client.ext
rm -f server.ext client.ext ca.srl
chmod 600 ./*.key
echo "$dir"
