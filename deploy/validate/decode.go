package validate

import (
	"bufio"
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Object is one decoded Kubernetes object and where it came from.
type Object struct {
	Source string // file or template path, with the document's index when it has several
	GVK    schema.GroupVersionKind
	Obj    runtime.Object
}

var (
	scheme = runtime.NewScheme()
	// strict rejects unknown and duplicate fields, as the API server's strict field
	// validation does.
	strict runtime.Decoder
)

func init() {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	strict = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// SplitDocuments splits a YAML stream on its "---" lines and drops the documents that
// hold only comments and blank lines.
func SplitDocuments(text string) []string {
	var docs []string
	var cur strings.Builder
	flush := func() {
		if hasContent(cur.String()) {
			docs = append(docs, cur.String())
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, " \t") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

func hasContent(doc string) bool {
	for line := range strings.SplitSeq(doc, "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

// Decode strictly decodes every document of a YAML stream into its registered Kubernetes
// or Prometheus Operator type. An unknown kind, an unknown field, a duplicate field or a
// value of the wrong type is an error naming source.
func Decode(source, text string) ([]Object, error) {
	docs := SplitDocuments(text)
	objs := make([]Object, 0, len(docs))
	for i, doc := range docs {
		src := source
		if len(docs) > 1 {
			src = fmt.Sprintf("%s#%d", source, i)
		}
		obj, gvk, err := strict.Decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", src, err)
		}
		objs = append(objs, Object{Source: src, GVK: *gvk, Obj: obj})
	}
	return objs, nil
}

// DecodeRendered decodes every template of a render.
func DecodeRendered(r Rendered) ([]Object, error) {
	var all []Object
	for _, p := range r.Paths() {
		objs, err := Decode(p, r.Files[p])
		if err != nil {
			return nil, err
		}
		all = append(all, objs...)
	}
	return all, nil
}
