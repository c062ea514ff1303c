package images

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// Dockerfile is what the final stage of a Dockerfile puts into its image,
// as far as the check needs it.
type Dockerfile struct {
	// Packages are the arguments of `apt-get install`, flags left out.
	Packages []string
	// Files are the absolute paths COPY and ADD write, one per source when
	// the destination is a directory (ends in "/").
	Files []string
	// Dirs are the directories `mkdir -p` creates in RUN.
	Dirs []string
	// Labels are the LABEL keys and values, quotes removed.
	Labels map[string]string
}

// ParseDockerfile reads a Dockerfile and returns what its last stage (the
// one after the last FROM) installs, copies, creates and labels.
func ParseDockerfile(r io.Reader) (Dockerfile, error) {
	instructions, err := logicalLines(r)
	if err != nil {
		return Dockerfile{}, err
	}
	var d Dockerfile
	workdir := "/"
	for _, line := range instructions {
		keyword, args, _ := strings.Cut(line, " ")
		args = strings.TrimSpace(args)
		switch strings.ToUpper(keyword) {
		case "FROM":
			d, workdir = Dockerfile{}, "/" // a new stage: only the last one is the image
		case "WORKDIR":
			workdir = path.Join(workdir, args)
		case "RUN":
			d.Packages = append(d.Packages, commandArgs(args, "apt-get install")...)
			d.Dirs = append(d.Dirs, commandArgs(args, "mkdir -p")...)
		case "COPY", "ADD":
			files, err := copyDestinations(args, workdir)
			if err != nil {
				return Dockerfile{}, fmt.Errorf("%s %s: %w", keyword, args, err)
			}
			d.Files = append(d.Files, files...)
		case "LABEL":
			labels, err := parseLabels(args)
			if err != nil {
				return Dockerfile{}, fmt.Errorf("LABEL %s: %w", args, err)
			}
			if d.Labels == nil {
				d.Labels = map[string]string{}
			}
			for k, v := range labels {
				d.Labels[k] = v
			}
		}
	}
	return d, nil
}

// logicalLines joins continued lines (trailing backslash) and drops
// comments and blank lines, giving one instruction per element.
func logicalLines(r io.Reader) ([]string, error) {
	var lines []string
	var current strings.Builder
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if strings.HasPrefix(line, "#") || (line == "" && current.Len() == 0) {
			continue
		}
		if continued, ok := strings.CutSuffix(line, `\`); ok {
			current.WriteString(continued)
			current.WriteString(" ")
			continue
		}
		current.WriteString(line)
		lines = append(lines, strings.Join(strings.Fields(current.String()), " "))
		current.Reset()
	}
	if current.Len() > 0 {
		lines = append(lines, strings.Join(strings.Fields(current.String()), " "))
	}
	return lines, scanner.Err()
}

// commandArgs returns the operands (words not starting with "-") that follow
// each occurrence of command in a shell line, up to the next operator.
func commandArgs(shell, command string) []string {
	var args []string
	rest := shell
	for {
		_, after, found := strings.Cut(rest, command)
		if !found {
			return args
		}
		rest = after
		for _, word := range strings.Fields(after) {
			if word == "&&" || word == "||" || word == ";" || word == "|" {
				break
			}
			if !strings.HasPrefix(word, "-") {
				args = append(args, word)
			}
		}
	}
}

// copyDestinations returns the paths a COPY or ADD writes: the destination
// itself, or each source's base name under it when it ends in "/", relative
// destinations taken from workdir.
func copyDestinations(args, workdir string) ([]string, error) {
	var words []string
	for _, word := range strings.Fields(args) {
		if !strings.HasPrefix(word, "--") { // --from=, --chown=, --chmod=
			words = append(words, word)
		}
	}
	if len(words) < 2 {
		return nil, fmt.Errorf("want sources and a destination")
	}
	sources, dest := words[:len(words)-1], words[len(words)-1]
	isDir := strings.HasSuffix(dest, "/") || dest == "."
	dest = path.Join(workdir, dest)
	if !isDir {
		if len(sources) > 1 {
			return nil, fmt.Errorf("several sources need a directory destination ending in /")
		}
		return []string{path.Clean(dest)}, nil
	}
	files := make([]string, 0, len(sources))
	for _, source := range sources {
		files = append(files, path.Join(dest, path.Base(source)))
	}
	return files, nil
}

// parseLabels reads LABEL's key=value pairs, values optionally in double
// quotes (which may hold spaces).
func parseLabels(args string) (map[string]string, error) {
	labels := map[string]string{}
	rest := strings.TrimSpace(args)
	for rest != "" {
		key, after, found := strings.Cut(rest, "=")
		if !found || key == "" || strings.ContainsAny(key, " \"") {
			return nil, fmt.Errorf("want key=value at %q", rest)
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote after %s=", key)
			}
			value, rest = after[1:1+end], after[2+end:]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		labels[key] = value
		rest = strings.TrimSpace(rest)
	}
	return labels, nil
}
