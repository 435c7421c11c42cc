package config

import (
	"bufio"
	"path"
	"strings"
)

// gcloudConfig is the active gcloud configuration: the properties
// `gcloud config set` writes, by section and name.
type gcloudConfig struct {
	file  string
	props map[string]string // "core/project" -> "my-project"
}

// gcloudProperty reads a property from the active gcloud configuration
// ($CLOUDSDK_CONFIG or ~/.config/gcloud, configurations/config_NAME where
// NAME is $CLOUDSDK_ACTIVE_CONFIG_NAME, the active_config file, or default).
func (r *resolver) gcloudProperty(section, name string) fallback {
	return func() (string, Source, bool) {
		if r.gcloud == nil {
			r.gcloud = r.loadGcloud()
		}
		v, ok := r.gcloud.props[section+"/"+name]
		return v, Source{SourceGcloud, r.gcloud.file + " [" + section + "] " + name}, ok && v != ""
	}
}

func (r *resolver) loadGcloud() *gcloudConfig {
	g := &gcloudConfig{props: map[string]string{}}
	dir, ok := r.lookupEnv("CLOUDSDK_CONFIG")
	if !ok {
		if home, ok := r.lookupEnv("HOME"); ok {
			dir = path.Join(home, ".config", "gcloud")
		} else if appdata, ok := r.lookupEnv("APPDATA"); ok {
			dir = path.Join(appdata, "gcloud")
		} else {
			return g
		}
	}
	active, ok := r.lookupEnv("CLOUDSDK_ACTIVE_CONFIG_NAME")
	if !ok {
		if b, err := r.in.ReadFile(path.Join(dir, "active_config")); err == nil {
			active = strings.TrimSpace(string(b))
		}
	}
	if active == "" {
		active = "default"
	}
	g.file = path.Join(dir, "configurations", "config_"+active)
	b, err := r.in.ReadFile(g.file)
	if err != nil {
		return g
	}
	g.props = parseINI(string(b))
	return g
}

// parseINI reads the subset of INI that gcloud writes: [section] headers and
// "key = value" lines; comments start with # or ;.
func parseINI(text string) map[string]string {
	props := map[string]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
		default:
			if k, v, ok := strings.Cut(line, "="); ok {
				props[section+"/"+strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return props
}
