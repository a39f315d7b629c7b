// The wayshub sandbox site (two app servers and a load balancer as sandbox VMs on this machine), declared from
// TypeScript through the SDK that `pulumi package add ../../package` generates. The settings are a stack
// file's `wayshub:` values (docs/config.md), checked by the package as a stack's are; secret settings go in
// this stack's config under `wayshub:` (`pulumi config set --secret --path wayshub:appSecrets.TOKEN`).
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as wayshub from "@pulumi/wayshub";

const config = new pulumi.Config();
// The folder the settings' paths start from: the repo's root, whose app/ is the sample app (`app.source`
// defaults to `app`). Absolute: the package's plugin runs in a folder of its own.
const project = config.get("project") ?? path.resolve(__dirname, "..", "..");
// Where the sandbox VMs go; `pulumi config set --path sandbox.httpPort 8280` and so on move them.
const sandbox = config.getObject<Record<string, unknown>>("sandbox") ?? {};

const site = new wayshub.Site("site", {
    project,
    settings: {
        domain: config.get("domain") ?? "wayshub-ts.localhost",
        hosts: {
            provider: "sandbox",
            appServers: [{ name: "app1" }, { name: "app2" }],
            lbServer: { name: "lb" },
        },
        sandbox: {
            network: "wayshub-ts",
            subnet: "172.30.79.0/24",
            sshPortBase: 2240,
            httpPort: 8180,
            httpsPort: 8543,
            ...sandbox,
        },
        // The sample app reports its release at /health: a stricter check than the default GET /.
        app: { health: { path: "/health", bodyContains: '"version":"{release}"' } },
        lb: { tls: "off" },
        // *.localhost resolves to 127.0.0.1 by itself: no hosts-file block (which would need root).
        hostsFile: { enabled: false },
    },
});

export const url = site.url;
export const curl = site.curl;
export const backends = site.backends;
export const release = site.release;
export const lbAddress = site.lbAddress;
