// deploy-check validates the deployment files without a Docker engine (issue 16 item 6):
//
//   - a compose file is loaded by compose-go (the Compose Specification's reference loader, the
//     one `docker compose` uses): the file is validated against the compose-spec JSON schema it
//     embeds, interpolated with the given env files, normalized and checked for consistency
//     (unknown services in depends_on, undefined volumes and networks). Then this project's
//     rules: images pinned to a tag or digest (no `latest`), never Temporal's deprecated
//     `auto-setup` image, every `service_healthy` dependency has a healthcheck, and secrets
//     (PASSWORD, SECRET, ACCESS_KEY, TOKEN variables) come from the environment, never literal.
//   - a Dockerfile is parsed by BuildKit's Dockerfile frontend with its linter on (the rules
//     of `docker build --check`), every warning an error. Then this project's rules: a
//     multi-stage build, every base image pinned (tag other than latest, or digest), a USER that
//     is not root in the final stage, and a HEALTHCHECK in it.
//
// Usage: deploy-check [-env-file F]... [-compose FILE] [-dockerfile FILE]
// Prints one line per problem ("file: problem") and exits 1 when there is any, 2 on bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	digest "github.com/opencontainers/go-digest"
	yaml "go.yaml.in/yaml/v4"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var envFiles listFlag
	flag.Var(&envFiles, "env-file", "env file for interpolation (repeatable)")
	compose := flag.String("compose", "", "compose file to check")
	dockerfile := flag.String("dockerfile", "", "Dockerfile to check")
	flag.Parse()
	if *compose == "" && *dockerfile == "" {
		fmt.Fprintln(os.Stderr, "usage: deploy-check [-env-file F]... [-compose FILE] [-dockerfile FILE]")
		os.Exit(2)
	}
	var problems []string
	if *compose != "" {
		problems = append(problems, checkCompose(*compose, envFiles)...)
	}
	if *dockerfile != "" {
		problems = append(problems, checkDockerfile(*dockerfile)...)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("deploy-check: ok")
}

var secretName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|PWD|SECRET|ACCESS_KEY|TOKEN|API_KEY)`)
var interpolated = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$`)

func checkCompose(file string, envFiles []string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, file+": "+fmt.Sprintf(format, args...)) }
	env := map[string]string{}
	for _, f := range envFiles {
		values, err := dotenv.GetEnvFromFile(env, []string{f})
		if err != nil {
			bad("env file %s: %v", f, err)
			return problems
		}
		for k, v := range values {
			env[k] = v
		}
	}
	abs, _ := filepath.Abs(file)
	body, err := os.ReadFile(abs)
	if err != nil {
		bad("%v", err)
		return problems
	}
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs, Content: body}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("deploy-check", true) })
	if err != nil {
		bad("%v", err)
		return problems
	}
	names := make([]string, 0, len(project.Services))
	for name := range project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := project.Services[name]
		if s.Image != "" && s.Build == nil {
			if strings.Contains(s.Image, "temporalio/auto-setup") {
				bad("service %s: temporalio/auto-setup is deprecated: run temporalio/server with a one-shot schema job (temporalio/admin-tools)", name)
			}
			if !pinned(s.Image) {
				bad("service %s: image %q is not pinned to a tag or digest", name, s.Image)
			}
		}
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionHealthy {
				target, ok := project.Services[dep]
				if ok && (target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0) {
					bad("service %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			}
		}
	}
	// Secrets: checked on the file as written, before interpolation.
	var raw struct {
		Services map[string]struct {
			Environment any `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(body, &raw); err != nil {
		bad("%v", err)
		return problems
	}
	for name, s := range raw.Services {
		for key, value := range environmentOf(s.Environment) {
			if secretName.MatchString(key) && value != nil && !interpolated.MatchString(*value) {
				bad("service %s: %s is written in the file: take it from an env file (${%s})", name, key, key)
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// environmentOf reads a service's `environment` as written: a map or a list of KEY=VALUE.
func environmentOf(v any) map[string]*string {
	out := map[string]*string{}
	switch e := v.(type) {
	case map[string]any:
		for k, val := range e {
			if val == nil {
				out[k] = nil
				continue
			}
			s := fmt.Sprint(val)
			out[k] = &s
		}
	case []any:
		for _, item := range e {
			k, val, ok := strings.Cut(fmt.Sprint(item), "=")
			if !ok {
				out[k] = nil
				continue
			}
			out[k] = &val
		}
	}
	return out
}

// offlineImages answers BuildKit's image look-ups without a registry (none is reachable here):
// every base image has an empty config, so the rules that need one (e.g. the platform of a
// base image) see none; the rules on the Dockerfile itself all run.
type offlineImages struct{}

func (offlineImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return ref, "", []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"config":{}}`), nil
}

// sourceMap: the Dockerfile as BuildKit's lint names it in its results (a definition is required).
func sourceMap(file string, body []byte) *llb.SourceMap {
	st := llb.Scratch()
	m := llb.NewSourceMap(&st, file, "Dockerfile", body)
	def, err := st.Marshal(context.Background())
	if err == nil {
		m.Definition = def
	}
	return m
}

// pinned: a digest, or a tag that is not `latest` (a registry port is not a tag).
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	if i < 0 {
		return false
	}
	tag := last[i+1:]
	return tag != "" && tag != "latest" && !strings.Contains(tag, "$")
}

func checkDockerfile(file string) []string {
	var problems []string
	bad := func(line int, format string, args ...any) {
		where := file
		if line > 0 {
			where = fmt.Sprintf("%s:%d", file, line)
		}
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	f, err := os.Open(file)
	if err != nil {
		bad(0, "%v", err)
		return problems
	}
	defer f.Close()
	result, err := parser.Parse(f)
	if err != nil {
		bad(0, "%v", err)
		return problems
	}
	for _, w := range result.Warnings {
		bad(w.Location.Start.Line, "%s", w.Short)
	}
	// The whole of `docker build --check`: every stage converted, every rule (experimental ones too).
	body, _ := os.ReadFile(file)
	results, err := dockerfile2llb.DockerfileLint(context.Background(), body, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{LinterConfig: &linter.Config{ExperimentalAll: true}},
		SourceMap:    sourceMap(file, body),
		MetaResolver: offlineImages{},
	})
	if err != nil {
		bad(0, "%v", err)
		return problems
	}
	for _, w := range results.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		bad(line, "%s: %s (%s)", w.RuleName, w.Detail, w.URL)
	}
	if results.Error != nil {
		bad(0, "%s", results.Error.Message)
	}
	stages, metaArgs, err := instructions.Parse(result.AST, nil)
	if err != nil {
		bad(0, "%v", err)
		return problems
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	if len(stages) < 2 {
		bad(0, "a multi-stage build is expected (a build stage and a slim runtime stage); found %d stage(s)", len(stages))
	}
	names := map[string]bool{}
	for _, s := range stages {
		if s.Name != "" {
			names[strings.ToLower(s.Name)] = true
		}
		base := os.Expand(s.BaseName, func(k string) string { return args[k] })
		if names[strings.ToLower(base)] || base == "scratch" {
			continue
		}
		if !pinned(base) {
			bad(s.Location[0].Start.Line, "base image %q is not pinned to a tag or digest", s.BaseName)
		}
	}
	if len(stages) == 0 {
		return problems
	}
	final := stages[len(stages)-1]
	user := ""
	healthcheck := false
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.HealthCheckCommand:
			healthcheck = c.Health != nil && len(c.Health.Test) > 0 && c.Health.Test[0] != "NONE"
		}
	}
	line := final.Location[0].Start.Line
	if name := strings.SplitN(user, ":", 2)[0]; name == "" || name == "root" || name == "0" {
		bad(line, "the final stage runs as root: add a USER that is not root")
	}
	if !healthcheck {
		bad(line, "the final stage has no HEALTHCHECK")
	}
	sort.Strings(problems)
	return problems
}
