// pulumi-language-nodejs for an engine built from Go modules.
//
// The Go module proxy refuses the nodejs language host's own module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3), so the host that runs programs is the
// last one the sdk/v3 module still contained (v3.68.0, built by ../pulumi-language-nodejs-runtime as
// pulumi-language-nodejs-runtime, beside this binary). That host predates two RPCs `pulumi package add`
// needs: GeneratePackage (write a TypeScript SDK from a schema) and Link (add it to package.json). This
// program starts the old host, answers those two itself with the engine's own code generator (pkg/v3 at the
// CLI's version) and npm helpers (sdk/v3), and passes every other call through to the old host unchanged.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/blang/semver"
	codegen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// The host this binary fronts sits beside it: <own name>-runtime. Named pulumi-language-python (beside a
// pulumi-language-python-runtime that is the engine's v3.68.0 Python host) it lets that host run source-based
// Python plugins (PulumiPlugin.yaml, `pulumi package add <folder>`): see patchPython.
var runtimeBinary = filepath.Base(os.Args[0]) + "-runtime"

var isPython = strings.HasPrefix(filepath.Base(os.Args[0]), "pulumi-language-python")

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	// The child must die with us: the engine kills language hosts it is done with.
	runtime.LockOSThread()
	self, err := os.Executable()
	if err != nil {
		fail("%v", err)
	}
	child := exec.Command(filepath.Join(filepath.Dir(self), runtimeBinary), os.Args[1:]...)
	child.Stderr = os.Stderr
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := child.StdoutPipe()
	if err != nil {
		fail("%v", err)
	}
	if err := child.Start(); err != nil {
		fail("starting %s: %v", runtimeBinary, err)
	}
	lines := bufio.NewReader(out)
	port, err := lines.ReadString('\n')
	if err != nil {
		fail("%s printed no port: %v", runtimeBinary, err)
	}
	go func() { _, _ = io.Copy(os.Stdout, lines) }() // later output of the child, as it would have printed it

	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		fail("connecting to %s: %v", runtimeBinary, err)
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			srv.RegisterService(&ownMethods, &host{})
			return nil
		},
		Options: []grpc.ServerOption{
			grpc.ForceServerCodec(frameCodec{}),
			grpc.UnknownServiceHandler(forward(conn)),
		},
	})
	if err != nil {
		fail("could not start the language host RPC server: %v", err)
	}
	fmt.Printf("%d\n", handle.Port)

	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	select {
	case err := <-handle.Done:
		_ = child.Process.Kill()
		if err != nil {
			fail("stopped serving: %v", err)
		}
	case err := <-exited:
		if err != nil {
			fail("%s: %v", runtimeBinary, err)
		}
	}
}

// ownMethods: the LanguageRuntime methods answered here; the server hands every other one to forward.
var ownMethods = func() grpc.ServiceDesc {
	desc := pulumirpc.LanguageRuntime_ServiceDesc
	desc.Methods = nil
	for _, m := range pulumirpc.LanguageRuntime_ServiceDesc.Methods {
		if !isPython && (m.MethodName == "GeneratePackage" || m.MethodName == "Link") {
			desc.Methods = append(desc.Methods, m)
		}
	}
	desc.Streams = nil
	return desc
}()

// frame is one undecoded message passed through to the old host.
type frame struct{ payload []byte }

// frameCodec passes frames through as they are and (un)marshals everything else as protobuf.
type frameCodec struct{}

func (frameCodec) Name() string { return "proto" }

func (frameCodec) Marshal(v any) ([]byte, error) {
	if f, ok := v.(*frame); ok {
		return f.payload, nil
	}
	return proto.Marshal(v.(proto.Message))
}

func (frameCodec) Unmarshal(data []byte, v any) error {
	if f, ok := v.(*frame); ok {
		f.payload = append([]byte(nil), data...)
		return nil
	}
	return proto.Unmarshal(data, v.(proto.Message))
}

// forward relays one call (unary or streaming) to the old host, metadata and status included.
func forward(conn *grpc.ClientConn) grpc.StreamHandler {
	return func(_ any, in grpc.ServerStream) error {
		method, ok := grpc.MethodFromServerStream(in)
		if !ok {
			return errors.New("no method name")
		}
		var first *frame // a request already read here, to go out first
		if isPython && method == "/pulumirpc.LanguageRuntime/InstallDependencies" {
			first = &frame{}
			if err := in.RecvMsg(first); err != nil {
				return err
			}
			if done, err := skipPluginInstall(in, first.payload); done {
				return err
			}
		}
		md, _ := metadata.FromIncomingContext(in.Context())
		ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(in.Context(), md.Copy()))
		defer cancel()
		out, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
			method, grpc.ForceCodec(frameCodec{}))
		if err != nil {
			return err
		}
		sent := make(chan error, 1)
		go func() {
			for {
				var f frame
				if first != nil {
					f, first = *first, nil
				} else if err := in.RecvMsg(&f); err != nil {
					if errors.Is(err, io.EOF) {
						sent <- out.CloseSend()
					} else {
						sent <- err
					}
					return
				}
				if isPython && method == "/pulumirpc.LanguageRuntime/RunPlugin" {
					f.payload = patchRunPlugin(f.payload)
				}
				if err := out.SendMsg(&f); err != nil {
					sent <- err
					return
				}
			}
		}()
		header, err := out.Header()
		if err == nil {
			_ = in.SendHeader(header)
		}
		for {
			var f frame
			if err := out.RecvMsg(&f); err != nil {
				in.SetTrailer(out.Trailer())
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err // the old host's status, code and message as they were
			}
			if err := in.SendMsg(&f); err != nil {
				return err
			}
		}
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
}

// GeneratePackage writes the TypeScript SDK of a schema into req.Directory.
func (*host) GeneratePackage(
	ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.Schema), &spec); err != nil {
		return nil, err
	}
	pkg, diags, err := schema.BindSpec(spec, schema.NewCachedLoader(loader),
		schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}
	if diags.HasErrors() {
		return resp, nil
	}
	files, err := codegen.GeneratePackage("pulumi-language-nodejs", pkg, req.ExtraFiles,
		req.LocalDependencies, req.Local, schema.NewCachedLoader(loader))
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		path := filepath.Join(req.Directory, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// Link adds generated SDKs to the program's package.json (the `file:` form, as `npm pkg set` writes it).
func (*host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	manager := npm.AutoPackageManager
	if opts := req.GetInfo().GetOptions().AsMap(); opts["packagemanager"] != nil {
		manager = npm.PackageManagerType(fmt.Sprint(opts["packagemanager"]))
	}
	programDir := req.GetInfo().GetProgramDirectory()
	pm, err := npm.ResolvePackageManager(manager, programDir)
	if err != nil {
		return nil, err
	}
	loader, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	cached := schema.NewCachedLoader(loader)

	var imports strings.Builder
	for _, dep := range req.Packages {
		desc := &schema.PackageDescriptor{Name: dep.Package.Name, DownloadURL: dep.Package.Server}
		if v, err := semver.New(dep.Package.Version); err == nil {
			desc.Version = v
		}
		if p := dep.Package.Parameterization; p != nil {
			desc.Parameterization = &schema.ParameterizationDescriptor{Name: p.Name, Value: p.Value}
			if v, err := semver.New(p.Version); err == nil {
				desc.Parameterization.Version = *v
			}
		}
		ref, err := cached.LoadPackageReferenceV2(ctx, desc)
		if err != nil {
			return nil, err
		}
		pkg, err := ref.Definition()
		if err != nil {
			return nil, err
		}
		if err := pkg.ImportLanguages(map[string]schema.Language{"nodejs": codegen.Importer}); err != nil {
			return nil, err
		}
		name := "@pulumi/" + pkg.Name
		if pkg.Namespace != "" {
			name = "@" + pkg.Namespace + "/" + pkg.Name
		}
		if info, ok := pkg.Language["nodejs"].(codegen.NodePackageInfo); ok && info.PackageName != "" {
			name = info.PackageName
		}
		if err := pm.Link(ctx, programDir, name, dep.Path); err != nil {
			return nil, err
		}
		fmt.Fprintf(&imports, "  import * as %s from \"%s\";\n", camel(pkg.Name), name)
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your TypeScript code with:\n\n" + imports.String(),
	}, nil
}

func camel(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// patchRunPlugin fills RunPluginRequest.program, which engines since v3.1xx leave empty (they send
// info.program_directory), so the v3.68.0 Python host runs `python3 <plugin folder>` (its __main__.py).
func patchRunPlugin(payload []byte) []byte {
	var req pulumirpc.RunPluginRequest
	if proto.Unmarshal(payload, &req) != nil || req.Program != "" || req.GetInfo().GetProgramDirectory() == "" {
		return payload
	}
	req.Program = req.GetInfo().GetProgramDirectory()
	if out, err := proto.Marshal(&req); err == nil {
		return out
	}
	return payload
}

// skipPluginInstall answers InstallDependencies for a source-based plugin: the v3.68.0 Python host would
// make a virtualenv in the plugin's own folder (it ignores the `virtualenv` option) and then still run the
// python3 on PATH, so nothing is installed: the plugin runs with the python3 on PATH, whose packages it
// must have. Program installs (not plugins) go to the host as before: done is false.
func skipPluginInstall(in grpc.ServerStream, payload []byte) (done bool, err error) {
	var req pulumirpc.InstallDependenciesRequest
	if err := proto.Unmarshal(payload, &req); err != nil || !req.IsPlugin {
		return false, nil
	}
	return true, in.SendMsg(&pulumirpc.InstallDependenciesResponse{
		Stdout: []byte("Using the python3 on PATH for this plugin (its packages are not installed for you)\n"),
	})
}
