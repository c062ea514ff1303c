package ipfixmediator

import (
	"os"
	"path/filepath"
	"testing"

	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"
	"gopkg.in/yaml.v3"
)

// The goflow2 mapping file users are pointed at maps every one of
// ovnet's elements, under ovnet's enterprise number, to a string field.
func TestGoflow2MappingCoversEveryElement(t *testing.T) {
	path := filepath.Join("..", "..", "..", "yamls", "examples", "goflow2", "pod-names.yaml")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cfg protoproducer.ProducerConfig
	if err := yaml.NewDecoder(f).Decode(&cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := cfg.Compile(); err != nil {
		t.Fatalf("%s does not compile in goflow2: %v", path, err)
	}
	types := map[string]string{}
	for _, pb := range cfg.Formatter.Protobuf {
		types[pb.Name] = pb.Type
	}
	mapped := map[Element]bool{}
	for _, m := range cfg.IPFIX.Mapping {
		if !m.PenProvided || m.Pen != EnterpriseNumber {
			continue
		}
		if types[m.Destination] != "string" {
			t.Errorf("element %d goes to %q, which is not a string field", m.Type, m.Destination)
		}
		mapped[Element(m.Type)] = true
	}
	for _, e := range Elements {
		if !mapped[e] {
			t.Errorf("%s maps no field %d (%s) of enterprise %d", path, e, e.Name(), EnterpriseNumber)
		}
	}
}
