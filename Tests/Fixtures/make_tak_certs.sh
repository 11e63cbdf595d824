#!/usr/bin/env bash
# Makes a throwaway PKI like a TAK Server's, for uasense's tls:// tests: in DIR,
#   ca.pem                      the "TAK Server" CA
#   server.pem / server.key     the server, for 127.0.0.1 and localhost, signed by ca.pem
#   client.p12                  a client certificate and key signed by ca.pem, password atakatak
#   client-legacy.p12           the same encrypted with RC2-40, as older TAK tools wrote them
#   stranger-ca.pem             another CA, which signed neither
#   stranger.p12                a client signed by stranger-ca.pem (the server must refuse it)
# EC P-256 keys, valid two days. Usage: make_tak_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # NAME
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=uasense test $1" 2>/dev/null
}
leaf() {  # NAME CA EXTENSIONS
    key "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 2 \
        -extfile "$1.ext" 2>/dev/null
}
ca ca
ca stranger-ca
leaf server ca "subjectAltName=IP:127.0.0.1,DNS:localhost"
leaf client ca "extendedKeyUsage=clientAuth"
leaf stranger stranger-ca "extendedKeyUsage=clientAuth"
openssl pkcs12 -export -in client.pem -inkey client.key -certfile ca.pem -out client.p12 -passout pass:atakatak
openssl pkcs12 -export -legacy -in client.pem -inkey client.key -certfile ca.pem -out client-legacy.p12 \
    -passout pass:atakatak
openssl pkcs12 -export -in stranger.pem -inkey stranger.key -out stranger.p12 -passout pass:atakatak
