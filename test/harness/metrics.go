package harness

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// FetchMetrics reads the /metrics page served at addr.
func FetchMetrics(addr string) (string, error) { return HTTPGet("http://" + addr + "/metrics") }

// HTTPGet returns the body of a GET; a status other than 200 is an error.
func HTTPGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), err
}

// SeriesValue finds "series value" in a /metrics page: series is a
// metric's name with its labels as exposed, e.g. `up{job="x"}`.
func SeriesValue(body, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// MetricValue is one series' value on the /metrics at addr now; it fails
// tb when the page cannot be read or lacks the series.
func MetricValue(tb T, addr, series string) float64 {
	tb.Helper()
	body, err := FetchMetrics(addr)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	v, ok := SeriesValue(body, series)
	if !ok {
		tb.Fatalf("%s/metrics has no %s", addr, series)
	}
	return v
}
