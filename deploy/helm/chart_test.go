// Package helm checks the Helm chart in rookery/. It is a module of its
// own, outside the workspace, so that helm's dependencies never choose the
// versions the apps build with.
package helm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// serviceMonitor is the part of the Prometheus Operator's CRD the chart
// fills, decoded strictly like the built-in kinds.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// rendered is one `helm template` output, decoded.
type rendered struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	ingresses   []*networkingv1.Ingress
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	monitors    []*serviceMonitor
	secrets     []*corev1.Secret
}

// render runs `helm template` (helm is a tool of this module) with set
// and decodes every manifest strictly: an unknown or misplaced field fails.
func render(t *testing.T, set ...string) rendered {
	t.Helper()
	args := []string{"tool", "helm", "template", "demo", "rookery"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", set, err, stderr.String())
	}
	r := rendered{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{}}
	for _, doc := range strings.Split(string(out), "\n---") {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("manifest: %v\n%s", err, doc)
		}
		if head.Kind == "" {
			continue // a comment-only document
		}
		strict := func(v any) {
			t.Helper()
			if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
				t.Fatalf("%s: %v\n%s", head.Kind, err, doc)
			}
		}
		switch fmt.Sprintf("%s %s", head.APIVersion, head.Kind) {
		case "apps/v1 Deployment":
			d := &appsv1.Deployment{}
			strict(d)
			r.deployments[d.Name] = d
		case "v1 Service":
			s := &corev1.Service{}
			strict(s)
			r.services[s.Name] = s
		case "v1 Secret":
			s := &corev1.Secret{}
			strict(s)
			r.secrets = append(r.secrets, s)
		case "networking.k8s.io/v1 Ingress":
			i := &networkingv1.Ingress{}
			strict(i)
			r.ingresses = append(r.ingresses, i)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			strict(h)
			r.hpas = append(r.hpas, h)
		case "policy/v1 PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			strict(p)
			r.pdbs = append(r.pdbs, p)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			m := &serviceMonitor{}
			strict(m)
			r.monitors = append(r.monitors, m)
		default:
			t.Fatalf("unexpected manifest %s %s", head.APIVersion, head.Kind)
		}
	}
	return r
}

// check verifies that the objects fit together: selectors select pods,
// services and probes name existing ports, references name objects.
func (r rendered) check(t *testing.T) {
	t.Helper()
	podsOf := func(sel map[string]string) []*appsv1.Deployment {
		var out []*appsv1.Deployment
		for _, d := range r.deployments {
			if labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
				out = append(out, d)
			}
		}
		return out
	}
	for name, d := range r.deployments {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("deployment %s: selector does not select its pods", name)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			ports := map[string]bool{}
			for _, p := range c.Ports {
				ports[p.Name] = true
			}
			for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
				if p == nil || p.HTTPGet == nil || !ports[p.HTTPGet.Port.StrVal] {
					t.Errorf("deployment %s: a probe without a named port of the container", name)
				}
			}
			seen := map[string]bool{}
			for _, e := range c.Env {
				if seen[e.Name] {
					t.Errorf("deployment %s: %s set twice", name, e.Name)
				}
				seen[e.Name] = true
			}
		}
	}
	for name, s := range r.services {
		pods := podsOf(s.Spec.Selector)
		if len(pods) != 1 {
			t.Errorf("service %s selects %d deployments", name, len(pods))
			continue
		}
		for _, p := range s.Spec.Ports {
			found := false
			for _, c := range pods[0].Spec.Template.Spec.Containers {
				for _, cp := range c.Ports {
					found = found || cp.Name == p.TargetPort.StrVal
				}
			}
			if !found {
				t.Errorf("service %s: target port %s is no container port", name, p.TargetPort.StrVal)
			}
		}
	}
	for _, i := range r.ingresses {
		for _, rule := range i.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				s, ok := r.services[p.Backend.Service.Name]
				if !ok {
					t.Errorf("ingress: no service %s", p.Backend.Service.Name)
					continue
				}
				if !servicePort(s, p.Backend.Service.Port.Name) {
					t.Errorf("ingress: service %s has no port %s", s.Name, p.Backend.Service.Port.Name)
				}
			}
		}
	}
	for _, h := range r.hpas {
		if _, ok := r.deployments[h.Spec.ScaleTargetRef.Name]; !ok {
			t.Errorf("autoscaler of a missing deployment %s", h.Spec.ScaleTargetRef.Name)
		}
	}
	for _, p := range r.pdbs {
		if len(podsOf(p.Spec.Selector.MatchLabels)) != 1 {
			t.Errorf("disruption budget %s selects no deployment", p.Name)
		}
	}
	for _, m := range r.monitors {
		n := 0
		for _, s := range r.services {
			if labels.SelectorFromSet(m.Spec.Selector.MatchLabels).Matches(labels.Set(s.Labels)) {
				n++
				for _, e := range m.Spec.Endpoints {
					if !servicePort(s, e.Port) {
						t.Errorf("service monitor %s: service %s has no port %s", m.Name, s.Name, e.Port)
					}
				}
			}
		}
		if n != 1 {
			t.Errorf("service monitor %s selects %d services", m.Name, n)
		}
	}
}

func servicePort(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func env(d *appsv1.Deployment, name string) (corev1.EnvVar, bool) {
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// TestHelmChart renders the chart with its defaults and with every option
// on, decodes each manifest with the Kubernetes API types, and checks that
// the objects fit together and the apps get their settings.
func TestHelmChart(t *testing.T) {
	base := []string{"external.databaseURL=postgres://u:p@db:5432/rookery", "external.redisURL=redis://redis:6379/0",
		"external.kafkaBrokers=kafka-0:9092\\,kafka-1:9092"}

	r := render(t, base...)
	r.check(t)
	if len(r.deployments) != 4 || len(r.hpas) != 1 || len(r.pdbs) != 1 || len(r.secrets) != 1 || len(r.ingresses) != 0 || len(r.monitors) != 0 {
		t.Fatalf("defaults: %d deployments, %d autoscalers, %d budgets, %d secrets, %d ingresses, %d monitors",
			len(r.deployments), len(r.hpas), len(r.pdbs), len(r.secrets), len(r.ingresses), len(r.monitors))
	}
	server := r.deployments["demo-rookery-server"]
	if server == nil || server.Spec.Replicas != nil {
		t.Fatal("the server's replicas belong to its autoscaler")
	}
	if e, ok := env(server, "SERVER_ID"); !ok || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("SERVER_ID: %+v", e)
	}
	if e, ok := env(server, "DATABASE_URL"); !ok || e.ValueFrom.SecretKeyRef.Name != "demo-rookery-external" {
		t.Errorf("DATABASE_URL: %+v", e)
	}
	if e, _ := env(server, "KAFKA_BROKERS"); e.Value != "kafka-0:9092,kafka-1:9092" {
		t.Errorf("KAFKA_BROKERS: %q", e.Value)
	}
	if e, _ := env(server, "ADMIN_ADDR"); e.Value != ":9091" {
		t.Errorf("ADMIN_ADDR: %q (the kubelet probes the admin port)", e.Value)
	}
	if _, ok := env(server, "ALLOWED_ORIGINS"); ok {
		t.Error("an empty setting is left unset, so the app's default holds")
	}

	all := append(base, "ingress.enabled=true", "ingress.tlsSecret=chat-tls", "ingress.className=nginx",
		"serviceMonitor.enabled=true", "server.autoscaling.enabled=false", "server.replicas=3",
		"persister.podDisruptionBudget.enabled=true", "server.extraEnv.OTEL_EXPORTER_OTLP_ENDPOINT=http://otel:4318",
		"server.config.SEND_RATE=50", "external.existingSecret=rookery-conn", "external.jwtHS256Secret=ignored-with-an-existing-secret")
	r = render(t, all...)
	r.check(t)
	if len(r.secrets) != 0 || len(r.ingresses) != 1 || len(r.monitors) != 3 || len(r.hpas) != 0 || len(r.pdbs) != 2 {
		t.Fatalf("all options: %d secrets, %d ingresses, %d monitors, %d autoscalers, %d budgets",
			len(r.secrets), len(r.ingresses), len(r.monitors), len(r.hpas), len(r.pdbs))
	}
	server = r.deployments["demo-rookery-server"]
	if server.Spec.Replicas == nil || *server.Spec.Replicas != 3 {
		t.Error("replicas without an autoscaler")
	}
	if e, _ := env(server, "SEND_RATE"); e.Value != "50" {
		t.Errorf("SEND_RATE: %q", e.Value)
	}
	if e, _ := env(server, "OTEL_EXPORTER_OTLP_ENDPOINT"); e.Value != "http://otel:4318" {
		t.Errorf("extra env: %q", e.Value)
	}
	if e, _ := env(server, "REDIS_URL"); e.ValueFrom.SecretKeyRef.Name != "rookery-conn" {
		t.Errorf("existing secret: %+v", e)
	}
	if e, _ := env(r.deployments["demo-rookery-web"], "SERVER_URLS"); e.Value != "https://chat.example.com" {
		t.Errorf("the web app's servers: %q", e.Value)
	}
	paths := map[string]string{}
	for _, p := range r.ingresses[0].Spec.Rules[0].HTTP.Paths {
		paths[p.Path] = p.Backend.Service.Name
	}
	if paths["/ws"] != "demo-rookery-server" || paths["/api"] != "demo-rookery-server" || paths["/"] != "demo-rookery-web" {
		t.Errorf("ingress paths: %v", paths)
	}

	// Without the connections, rendering fails with a message saying so.
	cmd := exec.Command("go", "tool", "helm", "template", "demo", "rookery")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "external.") {
		t.Errorf("rendering without connections: %v\n%s", err, out)
	}
}
