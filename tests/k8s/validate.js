// tests/k8s/validate.js DIR: validate every manifest of DIR (deploy/kubernetes)
// offline against the Kubernetes OpenAPI schemas, as compiled into the npm
// package kubernetes-models (pinned in package-lock.json), plus the rules the
// API server applies that a schema cannot say, and the kustomization's list.
// Prints one line per object and a closing "k8s-validate: N passed, M failed";
// exits 1 on any failure.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const dir = process.argv[2];
if (!dir) {
	console.error('usage: node validate.js DIR');
	process.exit(2);
}
const modelsVersion = require('kubernetes-models/package.json').version;
let passed = 0, failed = 0;
const ok = (what) => { passed++; console.log(`ok    ${what}`); };
const bad = (what, why) => { failed++; console.log(`FAIL  ${what}\n      ${why.split('\n').join('\n      ')}`); };

// apiVersion "apps/v1" kind "DaemonSet" -> kubernetes-models/apps/v1/DaemonSet
function modelFor(apiVersion, kind) {
	if (!/^[a-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind))
		return null;
	try {
		return require(`kubernetes-models/${apiVersion}/${kind}`)[kind] || null;
	} catch (e) {
		return null;
	}
}

function podSpecOf(obj) {
	if (obj.kind === 'Pod') return obj.spec;
	return obj.spec && obj.spec.template && obj.spec.template.spec;
}

// The API server's rules beyond the schema, and this project's own.
function policyErrors(obj, configMaps) {
	const errs = [];
	const spec = podSpecOf(obj);
	if (!spec) return errs;
	const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
	for (const c of containers) {
		const sc = c.securityContext || {};
		const caps = sc.capabilities || {};
		for (const m of c.volumeMounts || [])
			if (m.mountPropagation === 'Bidirectional' && sc.privileged !== true)
				errs.push(`container ${c.name}: mountPropagation Bidirectional needs privileged (the API server refuses it)`);
		if (sc.privileged === true)
			errs.push(`container ${c.name}: privileged (list capabilities instead)`);
		if (!(caps.drop || []).includes('ALL'))
			errs.push(`container ${c.name}: capabilities.drop must be [ALL]`);
		// $(VAR) in args/command must name an env or a ConfigMap key it imports
		const known = new Set((c.env || []).map((e) => e.name));
		for (const ef of c.envFrom || []) {
			const cm = ef.configMapRef && configMaps.get(ef.configMapRef.name);
			if (ef.configMapRef && !cm)
				errs.push(`container ${c.name}: envFrom ConfigMap ${ef.configMapRef.name} not in this base`);
			for (const k of Object.keys((cm && cm.data) || {})) known.add(k);
		}
		for (const a of [...(c.command || []), ...(c.args || [])])
			for (const m of String(a).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
				if (!known.has(m[1]))
					errs.push(`container ${c.name}: $(${m[1]}) is neither an env var nor a ConfigMap key`);
		const mounts = new Set((c.volumeMounts || []).map((m) => m.name));
		// a StatefulSet's volumeClaimTemplates are volumes of its pods too
		const claims = ((obj.spec && obj.spec.volumeClaimTemplates) || []).map((t) => t.metadata && t.metadata.name);
		const vols = new Set([...(spec.volumes || []).map((v) => v.name), ...claims]);
		for (const m of mounts)
			if (!vols.has(m)) errs.push(`container ${c.name}: volumeMount ${m} has no volume`);
	}
	return errs;
}

const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const objects = [];	// { file, obj }
let kustomization = null;
for (const f of files) {
	let docs;
	try {
		docs = YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8'));
	} catch (e) {
		bad(f, `unreadable: ${e.message}`);
		continue;
	}
	docs.forEach((d, i) => {
		if (d.errors.length) {
			bad(`${f}#${i}`, d.errors.map((e) => e.message).join('\n'));
			return;
		}
		const obj = d.toJSON();
		if (obj === null) return;	// empty document
		if (obj.kind === 'Kustomization') kustomization = { file: f, obj };
		else objects.push({ file: f, idx: i, obj });
	});
}

const configMaps = new Map(objects.filter((o) => o.obj.kind === 'ConfigMap' && o.obj.metadata)
	.map((o) => [o.obj.metadata.name, o.obj]));
const seen = new Set();
for (const { file, idx, obj } of objects) {
	const name = `${file}#${idx} ${obj.kind}/${obj.metadata && obj.metadata.name}`;
	const Model = modelFor(String(obj.apiVersion), String(obj.kind));
	if (!Model) {
		bad(name, `unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`);
		continue;
	}
	const errs = [];
	try {
		new Model(obj).validate();
	} catch (e) {
		const list = e.errors || [];
		if (list.length) for (const x of list) errs.push(`${x.instancePath || '/'} ${x.message}${x.params && x.params.missingProperty ? ' (' + x.params.missingProperty + ')' : ''}`);
		else errs.push(e.message);
	}
	const key = `${obj.kind}/${obj.metadata && obj.metadata.namespace}/${obj.metadata && obj.metadata.name}`;
	if (seen.has(key)) errs.push(`duplicate ${key}`);
	seen.add(key);
	errs.push(...policyErrors(obj, configMaps));
	if (errs.length) bad(name, errs.join('\n'));
	else ok(name);
}

if (!kustomization) {
	bad('kustomization.yaml', 'missing');
} else {
	const k = kustomization.obj, errs = [];
	if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1') errs.push(`apiVersion ${k.apiVersion}`);
	const listed = k.resources || [];
	for (const r of listed)
		if (!files.includes(r)) errs.push(`resources: ${r} does not exist`);
	for (const f of files)
		if (f !== kustomization.file && !listed.includes(f)) errs.push(`${f} is not listed in resources`);
	for (const { obj } of objects)
		if (obj.metadata && obj.metadata.namespace && k.namespace && obj.metadata.namespace !== k.namespace)
			errs.push(`${obj.kind}/${obj.metadata.name}: namespace ${obj.metadata.namespace}, kustomization says ${k.namespace}`);
	if (errs.length) bad(`${kustomization.file} Kustomization`, errs.join('\n'));
	else ok(`${kustomization.file} Kustomization (${listed.length} resources)`);
}

console.log(`k8s-validate: kubernetes-models ${modelsVersion}`);
console.log(`k8s-validate: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
