package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// Query is one PromQL expression of the kit, ready to evaluate: Grafana's variables
// replaced by their "All" value and its interval macros by a fixed range.
type Query struct {
	Source string `json:"source"` // "dashboard", "variable" or "rules"
	Title  string `json:"title"`  // panel title and legend, variable name, or rule name
	Expr   string `json:"expr"`
}

// Dashboard is the part of a Grafana dashboard the checks read.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel; rows hold their panels when collapsed.
type Panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource map[string]any `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []Target `json:"targets"`
	Panels     []Panel  `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
	Format       string `json:"format"`
}

// Variable is a dashboard template variable.
type Variable struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Definition string         `json:"definition"`
	Query      any            `json:"query"`
	AllValue   string         `json:"allValue"`
	IncludeAll bool           `json:"includeAll"`
	Datasource map[string]any `json:"datasource"`
}

// LoadDashboard reads a dashboard JSON file.
func LoadDashboard(path string) (Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Dashboard{}, fmt.Errorf("dashboard: %w", err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return Dashboard{}, fmt.Errorf("dashboard %s: %w", path, err)
	}
	return d, nil
}

// AllPanels returns the panels with the rows' nested panels, rows included.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

var (
	macroRE       = regexp.MustCompile(`\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}`)
	varRE         = regexp.MustCompile(`\$\{?([a-z][a-z0-9_]*)\}?`)
	labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
)

// Substitute replaces Grafana's interval macros with rangeInterval and every variable
// with its "All" value, ".*".
func Substitute(expr, rangeInterval string) string {
	expr = macroRE.ReplaceAllString(expr, rangeInterval)
	return varRE.ReplaceAllString(expr, ".*")
}

// VariableQuery turns a label_values(metric, label) variable query into the PromQL that
// lists the same values: count by (label) (metric).
func VariableQuery(def string) (string, error) {
	m := labelValuesRE.FindStringSubmatch(strings.TrimSpace(def))
	if m == nil {
		return "", fmt.Errorf("variable query %q is not label_values(metric, label)", def)
	}
	return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), nil
}

// DashboardQueries returns every panel target and query variable of the dashboard as
// evaluable PromQL.
func DashboardQueries(d Dashboard, rangeInterval string) ([]Query, error) {
	var qs []Query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, err := VariableQuery(v.Definition)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		qs = append(qs, Query{Source: "variable", Title: v.Name, Expr: Substitute(q, rangeInterval)})
	}
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				return nil, fmt.Errorf("panel %q target %s has no expression", p.Title, t.RefID)
			}
			qs = append(qs, Query{Source: "dashboard", Title: p.Title + ": " + t.LegendFormat, Expr: Substitute(t.Expr, rangeInterval)})
		}
	}
	return qs, nil
}

// RuleQueries returns every expression of a Prometheus rules file.
func RuleQueries(path string) ([]Query, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var spec monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(b, &spec); err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	var qs []Query
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			qs = append(qs, Query{Source: "rules", Title: r.Alert + r.Record, Expr: r.Expr.String()})
		}
	}
	return qs, nil
}
