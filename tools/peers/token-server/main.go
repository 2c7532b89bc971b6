// token-server is the token half of the distribution token auth flow, for tests: it signs the
// JWTs that a real docker-registry configured with `auth: token` accepts, granting the scopes a
// client asks for once it passes Basic auth with the one user it knows (or to anyone, with
// -anonymous). It prints "listening <port>" when ready.
//
//	token-server -cert tls.crt -key tls.key -issuer test -service registry -user u -password p
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

func main() {
	certFile := flag.String("cert", "", "PEM certificate that signs (in the registry's rootcertbundle)")
	keyFile := flag.String("key", "", "its PEM RSA key")
	issuer := flag.String("issuer", "gpuop-test-issuer", "the registry's auth.token.issuer")
	service := flag.String("service", "gpuop-test-registry", "the registry's auth.token.service")
	user := flag.String("user", "", "the one user")
	password := flag.String("password", "", "its password")
	anonymous := flag.Bool("anonymous", false, "grant tokens without credentials")
	flag.Parse()

	certPEM, err := os.ReadFile(*certFile)
	if err != nil {
		log.Fatal(err)
	}
	keyPEM, err := os.ReadFile(*keyFile)
	if err != nil {
		log.Fatal(err)
	}
	certBlock, _ := pem.Decode(certPEM)
	keyBlock, _ := pem.Decode(keyPEM)
	if certBlock == nil || keyBlock == nil {
		log.Fatal("cannot read the PEM certificate or key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	key := parsed.(*rsa.PrivateKey)

	http.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		name, pass, ok := r.BasicAuth()
		if !*anonymous && (!ok || name != *user || pass != *password) {
			http.Error(w, `{"details":"bad credentials"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("service") != *service {
			http.Error(w, "wrong service", http.StatusBadRequest)
			return
		}
		grants := []access{}
		for _, scope := range r.URL.Query()["scope"] {
			parts := strings.Split(scope, ":")
			if len(parts) == 3 {
				grants = append(grants, access{parts[0], parts[1], strings.Split(parts[2], ",")})
			}
		}
		header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "RS256",
			"x5c": []string{base64.StdEncoding.EncodeToString(certBlock.Bytes)}})
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{"iss": *issuer, "sub": name, "aud": *service,
			"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(),
			"iat": now.Unix(), "jti": fmt.Sprint(now.UnixNano()), "access": grants})
		signing := b64(header) + "." + b64(claims)
		digest := sha256.Sum256([]byte(signing))
		signature, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"token": signing + "." + b64(signature),
			"expires_in": 300, "issued_at": now.UTC().Format(time.RFC3339)})
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(listener, nil))
}
