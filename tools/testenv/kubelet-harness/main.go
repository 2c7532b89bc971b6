// Command kubelet-harness plays kubelet's side of the device plugin API for gpuop's tests,
// built on the upstream k8s.io/kubelet deviceplugin/v1beta1 package, so that the C++ plugin is
// checked against the real generated Go types and grpc-go, not against itself.
//
// It serves Registration on <dir>/kubelet.sock as kubelet does. On Register it checks the
// version, dials <dir>/<endpoint> (authority "localhost", as kubelet has since 1.26), calls
// GetDevicePluginOptions and keeps a ListAndWatch stream open. Tests drive it over HTTP on
// 127.0.0.1 (the port is printed as the first stdout line, "listening PORT"):
//
//	GET /state                      registrations and the latest device list of each resource, JSON
//	GET /allocate?resource=R&ids=a,b[&ids=c]   Allocate, one container per ids parameter; the reply as JSON
//	GET /preferred?resource=R&available=a,b&must=a&size=N   GetPreferredAllocation
//	GET /restart                    what kubelet does when it restarts: stop serving, delete every
//	                                socket in <dir> (kubelet.sock included), serve a new kubelet.sock
//	GET /bench?resource=R&ids=a&n=N Allocate and an empty call (GetDevicePluginOptions) N times
//	                                each on one connection; p50/p99 of both in microseconds
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

type device struct {
	ID     string  `json:"id"`
	Health string  `json:"health"`
	NUMA   []int64 `json:"numa,omitempty"`
}

type plugin struct {
	Resource      string                        `json:"resource"`
	Endpoint      string                        `json:"endpoint"`
	Registrations int                           `json:"registrations"`
	Options       *pluginapi.DevicePluginOptions `json:"-"`
	OptionsJSON   json.RawMessage               `json:"options"`
	Devices       []device                      `json:"devices"`
	Updates       int                           `json:"updates"`
	Streaming     bool                          `json:"streaming"`
	StreamError   string                        `json:"stream_error,omitempty"`
	conn          *grpc.ClientConn
	client        pluginapi.DevicePluginClient
	cancel        context.CancelFunc
}

type kubelet struct {
	pluginapi.UnimplementedRegistrationServer
	dir     string
	mu      sync.Mutex
	plugins map[string]*plugin
	server  *grpc.Server
}

func (k *kubelet) Register(ctx context.Context, r *pluginapi.RegisterRequest) (*pluginapi.Empty, error) {
	if r.Version != pluginapi.Version {
		return nil, fmt.Errorf("unsupported API version %q", r.Version)
	}
	if !strings.Contains(r.ResourceName, "/") || strings.HasPrefix(r.ResourceName, "kubernetes.io/") {
		return nil, fmt.Errorf("invalid extended resource name %q", r.ResourceName)
	}
	socket := filepath.Join(k.dir, r.Endpoint)
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithAuthority("localhost"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	client := pluginapi.NewDevicePluginClient(conn)
	callCtx, cancelCall := context.WithTimeout(ctx, 10*time.Second)
	defer cancelCall()
	options, err := client.GetDevicePluginOptions(callCtx, &pluginapi.Empty{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("GetDevicePluginOptions on %s: %v", socket, err)
	}
	optionsJSON, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(options)

	k.mu.Lock()
	p := k.plugins[r.ResourceName]
	registrations := 0
	if p != nil {
		// A re-registration replaces the endpoint, as kubelet's device manager does.
		p.cancel()
		p.conn.Close()
		registrations = p.Registrations
	}
	streamCtx, cancel := context.WithCancel(context.Background())
	p = &plugin{Resource: r.ResourceName, Endpoint: r.Endpoint, Registrations: registrations + 1,
		Options: options, OptionsJSON: optionsJSON, conn: conn, client: client, cancel: cancel}
	k.plugins[r.ResourceName] = p
	k.mu.Unlock()
	go k.listAndWatch(streamCtx, p)
	return &pluginapi.Empty{}, nil
}

func (k *kubelet) listAndWatch(ctx context.Context, p *plugin) {
	stream, err := p.client.ListAndWatch(ctx, &pluginapi.Empty{})
	if err != nil {
		k.mu.Lock()
		p.StreamError = err.Error()
		k.mu.Unlock()
		return
	}
	k.mu.Lock()
	p.Streaming = true
	k.mu.Unlock()
	for {
		response, err := stream.Recv()
		k.mu.Lock()
		if err != nil {
			p.Streaming = false
			p.StreamError = err.Error()
			k.mu.Unlock()
			return
		}
		p.Devices = nil
		for _, d := range response.Devices {
			out := device{ID: d.ID, Health: d.Health}
			if d.Topology != nil {
				for _, n := range d.Topology.Nodes {
					out.NUMA = append(out.NUMA, n.ID)
				}
			}
			p.Devices = append(p.Devices, out)
		}
		p.Updates++
		k.mu.Unlock()
	}
}

func (k *kubelet) serve() error {
	socket := filepath.Join(k.dir, "kubelet.sock")
	os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	k.server = grpc.NewServer()
	pluginapi.RegisterRegistrationServer(k.server, k)
	go k.server.Serve(listener)
	return nil
}

// restart is what a kubelet restart looks like to a plugin (kubelet's device manager,
// pkg/kubelet/cm/devicemanager, CleanupPluginDirectory at start): the registration server goes
// away, every socket file in the directory is deleted, a new kubelet.sock appears.
func (k *kubelet) restart() error {
	k.server.Stop()
	k.mu.Lock()
	for _, p := range k.plugins {
		p.cancel()
		p.conn.Close()
		p.Streaming = false
	}
	k.mu.Unlock()
	entries, _ := os.ReadDir(k.dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode()&os.ModeSocket != 0 {
			os.Remove(filepath.Join(k.dir, e.Name()))
		}
	}
	return k.serve()
}

func (k *kubelet) client(resource string) (pluginapi.DevicePluginClient, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.plugins[resource]
	if p == nil {
		return nil, fmt.Errorf("resource %q is not registered", resource)
	}
	return p.client, nil
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func percentiles(samples []time.Duration) (float64, float64) {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Nanoseconds()) / 1000
	}
	return at(0.50), at(0.99)
}

func main() {
	dir := flag.String("dir", "/var/lib/kubelet/device-plugins", "the device-plugins directory")
	flag.Parse()
	k := &kubelet{dir: *dir, plugins: map[string]*plugin{}}
	if err := k.serve(); err != nil {
		log.Fatal(err)
	}

	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(v)
	}
	http.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		defer k.mu.Unlock()
		reply(w, k.plugins, nil)
	})
	http.HandleFunc("/allocate", func(w http.ResponseWriter, r *http.Request) {
		client, err := k.client(r.URL.Query().Get("resource"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		request := &pluginapi.AllocateRequest{}
		for _, ids := range r.URL.Query()["ids"] {
			request.ContainerRequests = append(request.ContainerRequests,
				&pluginapi.ContainerAllocateRequest{DevicesIds: split(ids)})
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		response, err := client.Allocate(ctx, request)
		if err != nil {
			reply(w, nil, err)
			return
		}
		out, _ := protojson.Marshal(response)
		w.Write(out)
	})
	http.HandleFunc("/preferred", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		client, err := k.client(q.Get("resource"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		size, _ := strconv.Atoi(q.Get("size"))
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		response, err := client.GetPreferredAllocation(ctx, &pluginapi.PreferredAllocationRequest{
			ContainerRequests: []*pluginapi.ContainerPreferredAllocationRequest{{
				AvailableDeviceIDs: split(q.Get("available")), MustIncludeDeviceIDs: split(q.Get("must")),
				AllocationSize: int32(size)}}})
		if err != nil {
			reply(w, nil, err)
			return
		}
		out, _ := protojson.Marshal(response)
		w.Write(out)
	})
	http.HandleFunc("/restart", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]bool{"restarted": true}, k.restart())
	})
	http.HandleFunc("/bench", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		client, err := k.client(q.Get("resource"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		n, _ := strconv.Atoi(q.Get("n"))
		if n <= 0 {
			n = 1000
		}
		request := &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{
			{DevicesIds: split(q.Get("ids"))}}}
		allocate := make([]time.Duration, 0, n)
		empty := make([]time.Duration, 0, n)
		for i := 0; i < n; i++ {
			start := time.Now()
			if _, err := client.Allocate(r.Context(), request); err != nil {
				reply(w, nil, err)
				return
			}
			allocate = append(allocate, time.Since(start))
			start = time.Now()
			if _, err := client.GetDevicePluginOptions(r.Context(), &pluginapi.Empty{}); err != nil {
				reply(w, nil, err)
				return
			}
			empty = append(empty, time.Since(start))
		}
		a50, a99 := percentiles(allocate)
		e50, e99 := percentiles(empty)
		reply(w, map[string]float64{"allocate_p50_us": a50, "allocate_p99_us": a99,
			"empty_p50_us": e50, "empty_p99_us": e99, "calls": float64(n)}, nil)
	})

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	log.Fatal(http.Serve(listener, nil))
}
