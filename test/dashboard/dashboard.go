// Package dashboard reads the chart's Grafana dashboards for the metric
// names their PromQL queries use, so tests can hold them against the
// names ovnet's binaries export.
package dashboard

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Query is one PromQL expression of a dashboard and where it sits.
type Query struct {
	// Where names the panel (or template variable) holding it.
	Where string
	Expr  string
}

// file is the part of a Grafana dashboard that holds queries.
type file struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	// Panels are a collapsed row's.
	Panels []panel `json:"panels"`
}

type variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

// Queries reads every PromQL expression of the dashboard at path: panel
// targets, nested rows' panels, and query variables (label_values(expr,
// label) gives expr). A target without an expression is an error, so a
// panel cannot silently escape the check.
func Queries(path string) ([]Query, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var f file
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("parse dashboard %s: %w", path, err)
	}
	var out []Query
	var walk func([]panel) error
	walk = func(ps []panel) error {
		for _, p := range ps {
			for i, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					return fmt.Errorf("panel %q target %d has no expr", p.Title, i)
				}
				out = append(out, Query{Where: "panel " + p.Title, Expr: t.Expr})
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(f.Panels); err != nil {
		return nil, err
	}
	for _, v := range f.Templating.List {
		if v.Type != "query" {
			continue
		}
		expr, err := variableExpr(v.Query)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		out = append(out, Query{Where: "variable " + v.Name, Expr: expr})
	}
	return out, nil
}

// variableExpr is the PromQL inside a query variable, whose query is a
// string or {"query": string} depending on Grafana's version.
func variableExpr(raw json.RawMessage) (string, error) {
	var q string
	if err := json.Unmarshal(raw, &q); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", fmt.Errorf("query is neither a string nor an object: %w", err)
		}
		q = obj.Query
	}
	q = strings.TrimSpace(q)
	if inner, ok := strings.CutPrefix(q, "label_values("); ok {
		// label_values(expr, label): the label is no metric.
		if i := strings.LastIndex(inner, ","); i >= 0 {
			return inner[:i], nil
		}
		return strings.TrimSuffix(inner, ")"), nil
	}
	return q, nil
}

var (
	// Parts of PromQL that hold no metric name: strings, label matchers,
	// range and subquery brackets, and the label lists of grouping and
	// vector matching.
	stringLit = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	matchers  = regexp.MustCompile(`\{[^}]*\}`)
	ranges    = regexp.MustCompile(`\[[^\]]*\]`)
	grouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// token is an identifier, a Grafana variable or a number (durations
	// such as offset's 5m included).
	token = regexp.MustCompile(`\$\{?\w+\}?|[0-9][0-9.eE+]*[A-Za-z0-9_]*|[A-Za-z_:][A-Za-z0-9_:]*`)
)

// keywords are PromQL words that are not metric names.
var keywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
	"group_left", "group_right", "inf", "nan", "start", "end", "atan2"}

// MetricNames returns the metric names expr selects, sorted and unique:
// every identifier that is not a function or aggregation (followed by
// "("), a keyword, a label or a number. A selector by __name__ is an
// error: its name would escape the check.
func MetricNames(expr string) ([]string, error) {
	if strings.Contains(expr, "__name__") {
		return nil, fmt.Errorf("%q selects by __name__; name the metric instead", expr)
	}
	s := stringLit.ReplaceAllString(expr, `""`)
	s = matchers.ReplaceAllString(s, " ")
	s = ranges.ReplaceAllString(s, " ")
	s = grouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range token.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		switch {
		case word[0] == '$' || word[0] >= '0' && word[0] <= '9':
		case slices.Contains(keywords, strings.ToLower(word)):
		case strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "("):
		default:
			names = append(names, word)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
