package config

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDefaultsRunTheEmbeddedProduct(t *testing.T) {
	c, err := load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != Development || c.HTTPAddr != ":8080" || c.DatabaseURL != "" || c.RedisURL != "" ||
		!c.GraphiQL || !c.RunWorker || c.MaxPageSize != 100 || c.TokenTTL != 12*time.Hour {
		t.Errorf("defaults: %+v", c)
	}
}

func TestProductionDemandsSecrets(t *testing.T) {
	_, err := load(env(map[string]string{"SCRM_ENV": "production"}))
	if err == nil || !strings.Contains(err.Error(), "SCRM_JWT_SECRET") || !strings.Contains(err.Error(), "SCRM_PII_KEYS") {
		t.Fatalf("got %v", err)
	}
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	c, err := load(env(map[string]string{
		"SCRM_ENV": "production", "SCRM_JWT_SECRET": strings.Repeat("s", 32),
		"SCRM_PII_KEYS": "k1:aes-256-gcm:" + key, "SCRM_PII_INDEX_KEY": key,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.GraphiQL || c.LogFormat != "json" {
		t.Errorf("production conveniences: %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"SCRM_ENV":                "staging",
		"SCRM_HTTP_ADDR":          "8080",
		"SCRM_DATABASE_URL":       "postgres://x",
		"SCRM_REDIS_URL":          "http://localhost",
		"SCRM_JWT_SECRET":         "short",
		"SCRM_PII_KEYS":           "k1:aes-256-gcm:c2hvcnQ=",
		"SCRM_TOKEN_TTL":          "forever",
		"SCRM_MAX_PAGE_SIZE":      "0",
		"SCRM_GRAPHIQL":           "maybe",
		"SCRM_LOG_LEVEL":          "loud",
		"SCRM_LOG_FORMAT":         "xml",
		"SCRM_DB_MAX_OPEN_CONNS":  "-1",
		"SCRM_WORKER_CONCURRENCY": "many",
	} {
		_, err := load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: got %v", name, value, err)
		}
	}
}

func TestEveryVariableIsDocumented(t *testing.T) {
	documented := map[string]bool{}
	for _, v := range Vars {
		documented[v.Name] = true
	}
	var read []string
	_, _ = load(func(k string) string { read = append(read, k); return "" })
	for _, k := range read {
		if !documented[k] {
			t.Errorf("%s is read but not in Vars (and so not in the README table)", k)
		}
	}
}

func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(readme), "| `"+v.Name+"` |") {
			t.Errorf("README's configuration table lacks %s", v.Name)
		}
	}
}
