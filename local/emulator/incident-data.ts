// Realistic incident, alert and artifact payloads, deterministic from the seed, with the variations
// real tenants show (API-FACTS.md): string ids, nulls, string tags in alerts, "No"/false, "N/A", trailing spaces.
import { createRandom, type Random } from "./random.ts";
import type { EmulatedIncident, EmulatedProduct } from "./types.ts";

export const ALERT_SEVERITIES = ["critical", "high", "medium", "low", "informational"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const RESOLVED_STATUSES = [
  "resolved_threat_handled",
  "resolved_known_issue",
  "resolved_duplicate",
  "resolved_duplicate_incident",
  "resolved_false_positive",
  "resolved_true_positive",
  "resolved_security_testing",
  "resolved_other",
  "resolved_auto",
  "resolved_auto_resolve",
] as const;

/** A run of alerts attached at one time; alert i's severity follows from its position in its batch. */
export interface AlertBatch {
  detectedAt: number;
  counts: Record<AlertSeverity, number>;
}

export function batchSize(batch: AlertBatch): number {
  return ALERT_SEVERITIES.reduce((sum, severity) => sum + batch.counts[severity], 0);
}

const MITRE = [
  ["TA0002 - Execution", "T1059.001 - Command and Scripting Interpreter: PowerShell"],
  [
    "TA0003 - Persistence",
    "T1547.001 - Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder",
  ],
  ["TA0004 - Privilege Escalation", "T1055 - Process Injection"],
  ["TA0005 - Defense Evasion", "T1027 - Obfuscated Files or Information"],
  ["TA0006 - Credential Access", "T1003.001 - OS Credential Dumping: LSASS Memory"],
  ["TA0007 - Discovery", "T1087 - Account Discovery"],
  ["TA0008 - Lateral Movement", "T1021.002 - Remote Services: SMB/Windows Admin Shares"],
  ["TA0011 - Command and Control", "T1071.001 - Application Layer Protocol: Web Protocols"],
  ["TA0010 - Exfiltration", "T1048 - Exfiltration Over Alternative Protocol"],
  ["TA0040 - Impact", "T1486 - Data Encrypted for Impact"],
] as const;

const ALERT_NAMES = [
  ["Suspicious PowerShell Command Line", "Execution", "XDR Agent"],
  ["Credential dumping via LSASS access", "Credential Access", "XDR Agent"],
  ["Spyware Phone Home Detection", "Spyware Detected via Anti-Spyware profile", "PAN NGFW"],
  ["WildFire Malware", "Malware", "XDR Agent"],
  ["Unusual SMB traffic to multiple hosts", "Lateral Movement", "XDR Analytics"],
  ["Possible external RDP brute-force", "Credential Access", "XDR Analytics BIOC"],
  ["Ransomware-like file encryption activity", "Impact", "XDR Agent"],
  ["DNS tunneling over TXT records", "Command and Control", "PAN NGFW"],
  ["Rare process spawned by Office application", "Execution", "XDR BIOC"],
  ["Large upload to rare external domain", "Exfiltration", "XDR Analytics"],
  ["Impossible travel by a cloud identity", "Initial Access", "Cloud Identity Engine"],
  ["Port scan from internal host", "Discovery", "PAN NGFW"],
] as const;

const HOSTS = [
  "WKS-0142",
  "WKS-0877",
  "LAPTOP-JDOE",
  "SRV-DC01",
  "SRV-FILE02",
  "SRV-SQL03",
  "mac-analyst-7",
  "ip-10-0-3-17",
  "build-agent-04",
  "WKS-1203",
] as const;
const USERS = [
  "CORP\\jdoe",
  "CORP\\asmith",
  "CORP\\svc_backup",
  "root",
  "m.garcia@example.com",
  "CORP\\administrator",
  "k.tanaka",
] as const;
const ANALYSTS = [
  ["alex.morgan@example.com", "Alex Morgan"],
  ["sam.lee@example.com", "Sam Lee"],
  ["priya.nair@example.com", "Priya Nair"],
] as const;
const DOMAINS = ["update-check.example.net", "cdn.badsite.example", "mail.example.org", "files.example.io"];
const COUNTRIES = ["UNKNOWN", "US", "DE", "NL", "RU", "CN", "BR"];
const FILE_NAMES = [
  "invoice.pdf.exe",
  "mimikatz.exe",
  "powershell.exe",
  "payload.dll",
  "setup.msi",
  "rundll32.exe",
];
const WILDFIRE = ["BENIGN", "MALWARE", "GRAYWARE", "UNKNOWN"];

function ipv4(random: Random, privateRange: boolean): string {
  return privateRange
    ? `10.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`
    : `${random.int(11, 223)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`;
}

function agentId(random: Random): string {
  return random.hex(32);
}

export interface TenantIdentity {
  seed: string;
  product: EmulatedProduct;
  /** Console base, e.g. https://acme.xdr.us.paloaltonetworks.com. */
  consoleUrl: string;
}

export function tenantIdentity(seed: string, product: EmulatedProduct): TenantIdentity {
  const random = createRandom(seed, "tenant");
  const name = random.pick(["acme", "globex", "initech", "umbrella", "hooli"]);
  return {
    seed,
    product,
    consoleUrl: `https://${name}.xdr.${random.pick(["us", "eu", "uk"])}.paloaltonetworks.com`,
  };
}

/** The size of a new incident's first alert batch: mostly small, some large, every 40th above 1,000. */
export function initialAlertCount(random: Random, ordinal: number): number {
  if (ordinal % 40 === 7) return random.int(1000, 1500);
  const roll = random.next();
  if (roll < 0.6) return random.int(1, 5);
  if (roll < 0.85) return random.int(6, 50);
  return random.int(51, 300);
}

/** Splits a count over severities so that the most severe one present is `top`. */
export function alertCountsFor(
  random: Random,
  total: number,
  top: AlertSeverity,
): Record<AlertSeverity, number> {
  const counts: Record<AlertSeverity, number> = { critical: 0, high: 0, medium: 0, low: 0, informational: 0 };
  const allowed = ALERT_SEVERITIES.slice(ALERT_SEVERITIES.indexOf(top));
  counts[top] = 1;
  for (let i = 1; i < total; i++) counts[random.pick(allowed)] += 1;
  return counts;
}

export function pickSeverity(random: Random): AlertSeverity {
  const roll = random.next();
  if (roll < 0.08) return "critical";
  if (roll < 0.3) return "high";
  if (roll < 0.65) return "medium";
  if (roll < 0.95) return "low";
  return "informational";
}

function mitrePair(random: Random): readonly [string, string] {
  return random.pick(MITRE);
}

/** The flat get_incidents object for a new incident (its first version). */
export function buildIncident(
  tenant: TenantIdentity,
  incidentId: string,
  timing: { creationTime: number; modificationTime: number },
  batch: AlertBatch,
): EmulatedIncident {
  const random = createRandom(tenant.seed, "incident", incidentId);
  const alertCount = batchSize(batch);
  const top = ALERT_SEVERITIES.find((severity) => batch.counts[severity] > 0) ?? "low";
  const [alertName, category, source] = random.pick(ALERT_NAMES);
  const hostCount = random.int(0, 3);
  const hosts = Array.from({ length: hostCount }, () => `${random.pick(HOSTS)}:${agentId(random)}`);
  const users = Array.from({ length: random.int(0, 2) }, () => random.pick(USERS));
  const mitre = random.chance(0.25)
    ? null
    : Array.from({ length: random.int(1, 3) }, () => mitrePair(random));
  const hostPart = hosts[0] === undefined ? "" : ` detected on host ${hosts[0].split(":")[0]}`;
  const userPart = users[0] === undefined ? "" : ` involving user ${users[0]}`;
  const others = alertCount > 1 ? ` along with ${alertCount - 1} other alerts` : "";
  const assigned = random.chance(0.3) ? random.pick(ANALYSTS) : null;
  const numericId = Number(incidentId);
  const incident: EmulatedIncident = {
    incident_id: incidentId,
    is_blocked: false,
    incident_name: random.chance(0.6)
      ? null
      : `${alertName} on ${hostCount > 0 ? "multiple endpoints" : "the network"}`,
    creation_time: timing.creationTime,
    modification_time: timing.modificationTime,
    detection_time: null,
    status: "new",
    severity: top === "informational" && random.chance(0.3) ? "unknown" : top,
    description: `'${alertName}'${others} generated by ${source}${hostPart}${userPart}`,
    assigned_user_mail: assigned?.[0] ?? null,
    assigned_user_pretty_name: assigned?.[1] ?? null,
    alert_count: alertCount,
    low_severity_alert_count: batch.counts.low,
    med_severity_alert_count: batch.counts.medium,
    high_severity_alert_count: batch.counts.high,
    critical_severity_alert_count: batch.counts.critical,
    user_count: users.length,
    host_count: hosts.length,
    notes: null,
    resolve_comment: null,
    resolved_timestamp: null,
    manual_severity: null,
    manual_description: null,
    xdr_url: random.chance(0.5)
      ? `${tenant.consoleUrl}/incident-view?caseId=${numericId}`
      : `${tenant.consoleUrl}/incident-view/${numericId}`,
    starred: random.chance(0.1),
    starred_manually: false,
    hosts,
    users,
    incident_sources: [source],
    rule_based_score: random.chance(0.4) ? null : random.int(10, 400),
    manual_score: null,
    aggregated_score: random.chance(0.4) ? null : random.int(10, 100),
    predicted_score: random.chance(0.5) ? null : random.int(1, 100),
    wildfire_hits: random.int(0, 2),
    alerts_grouping_status: "Enabled",
    mitre_tactics_ids_and_names: mitre?.map(([tactic]) => tactic) ?? null,
    mitre_techniques_ids_and_names: mitre?.map(([, technique]) => technique) ?? null,
    alert_categories: [category],
    original_tags: ["DS:PANW/XDR Agent"],
    tags: random.chance(0.5) ? ["DS:PANW/XDR Agent", "EG:Windows"] : [],
  };
  return tenant.product === "xpanse"
    ? { ...incident, ...xpanseFields(random, timing.creationTime) }
    : incident;
}

function xpanseFields(random: Random, creationTime: number): Record<string, unknown> {
  const cve = `CVE-20${random.int(18, 25)}-${random.int(1000, 49999)}`;
  return {
    xpanse_risk_score: random.chance(0.2) ? null : random.int(1, 100),
    xpanse_risk_explainer: {
      cves: random.chance(0.5)
        ? [
            {
              cveId: cve,
              cvssScore: random.int(4, 10),
              epssScore: Math.round(random.next() * 1000) / 1000,
              matchType: random.pick(["ExactVersionMatch", "InferredCpeMatch"]),
              exploitMaturity: random.pick(["Weaponized", "PoC", "Unreported"]),
              reportedExploitInTheWild: random.chance(0.3),
              mostRecentReportedExploitDate: "2024-03-14",
              confidence: random.pick(["High", "Medium", "Low"]),
            },
          ]
        : [],
      riskFactors: [
        {
          attributeId: "misconfiguration",
          attributeName: "Misconfiguration",
          issueTypes: [{ displayName: "Insecure TLS", issueTypeId: "InsecureTLS" }],
        },
      ],
      versionMatched: random.chance(0.5),
    },
    cloud_management_status: random.pick(["Managed Cloud", "Unmanaged Cloud", "Not Applicable"]),
    integration_source: random.pick(["AWS", "AZURE", "GOOGLE", "PRISMA_CLOUD"]),
    ipv4_addresses: [ipv4(random, false)],
    ipv6_addresses: [],
    domain_names: [random.pick(DOMAINS)],
    port_number: random.pick([22, 443, 3389, 8080]),
    asset_ids: [random.hex(8)],
    ip_range_ids: [random.hex(8)],
    website_ids: [],
    service_ids: [random.hex(8)],
    last_observed: creationTime - random.int(0, 86_400_000),
    cloud_providers: [random.pick(["Amazon Web Services", "Microsoft Azure", "Google"])],
    country_codes: [random.pick(["US", "DE", "NL"])],
    certificate_common_names: random.chance(0.5) ? [`*.${random.pick(DOMAINS)}`] : [],
    certificate_issuers: random.chance(0.5) ? ["Let's Encrypt"] : [],
  };
}

/** Alert number `index` of the incident, in the batch that created it; regenerated identically on every call. */
export function buildAlert(
  tenant: TenantIdentity,
  incident: EmulatedIncident,
  index: number,
  severity: AlertSeverity,
  detectedAt: number,
): Record<string, unknown> {
  const random = createRandom(tenant.seed, "alert", incident.incident_id, index);
  const [name, category, source] = random.pick(ALERT_NAMES);
  const hosts = incident.hosts as string[];
  const hostEntry = hosts.length > 0 ? random.pick(hosts) : undefined;
  const [hostName, endpointId] = hostEntry?.split(":") ?? [null, null];
  const isNetwork = source === "PAN NGFW";
  const mitre = random.chance(0.3) ? null : mitrePair(random);
  const vendor = random.pick(["N/A", null, "Microsoft Corporation"]);
  const tagsAsString = random.chance(0.3);
  const numericId = Number(incident.incident_id);
  return {
    external_id: random.hex(24),
    severity,
    matching_status: random.pick(["MATCHED", "UNMATCHABLE"]),
    end_match_attempt_ts: null,
    local_insert_ts: detectedAt + random.int(100, 5000),
    bioc_indicator: null,
    matching_service_rule_id: null,
    attempt_counter: null,
    bioc_category_enum_key: null,
    case_id: numericId,
    is_whitelisted: random.chance(0.5) ? "No" : false,
    starred: false,
    deduplicate_tokens: random.hex(32),
    filter_rule_id: null,
    mitre_technique_id_and_name: mitre?.[1] ?? null,
    mitre_tactic_id_and_name: mitre?.[0] ?? null,
    agent_version: isNetwork ? null : "8.4.1.12345",
    agent_device_domain: isNetwork ? null : "CORP",
    agent_fqdn: hostName === null ? null : `${hostName?.toLowerCase()}.corp.example.com`,
    agent_os_type: isNetwork
      ? "NO_HOST"
      : random.pick(["AGENT_OS_WINDOWS", "AGENT_OS_LINUX", "AGENT_OS_MAC"]),
    agent_os_sub_type: null,
    agent_data_collection_status: null,
    mac: null,
    agent_is_vdi: null,
    agent_install_type: isNetwork ? "NA" : "STANDARD",
    agent_host_boot_time: null,
    event_sub_type: null,
    module_id: null,
    association_strength: null,
    dst_association_strength: null,
    story_id: null,
    event_id: null,
    event_type: isNetwork ? "Network Event" : "Process Execution",
    events_length: 1,
    event_timestamp: detectedAt,
    actor_process_instance_id: null,
    actor_process_image_path: isNetwork
      ? null
      : "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    actor_process_image_name: isNetwork ? null : "powershell.exe",
    actor_process_command_line: isNetwork ? null : "powershell.exe -nop -w hidden -enc SQBFAFgA",
    actor_process_signature_status: isNetwork ? "N/A" : "SIGNED",
    actor_process_signature_vendor: vendor,
    actor_process_image_sha256: isNetwork ? null : random.hex(64),
    actor_process_image_md5: null,
    actor_process_causality_id: null,
    actor_causality_id: null,
    actor_process_os_pid: isNetwork ? null : random.int(100, 30000),
    actor_thread_thread_id: null,
    causality_actor_process_image_name: null,
    causality_actor_process_command_line: null,
    causality_actor_process_image_path: null,
    causality_actor_process_signature_vendor: random.pick(["N/A", null]),
    causality_actor_process_signature_status: "N/A",
    causality_actor_causality_id: null,
    causality_actor_process_execution_time: null,
    causality_actor_process_image_md5: null,
    causality_actor_process_image_sha256: null,
    action_file_path: null,
    action_file_name: null,
    action_file_md5: null,
    action_file_sha256: null,
    action_file_macro_sha256: null,
    action_registry_data: null,
    action_registry_key_name: null,
    action_registry_value_name: null,
    action_registry_full_key: null,
    action_local_ip: ipv4(random, true),
    action_local_port: String(random.int(1024, 65535)),
    action_remote_ip: ipv4(random, false),
    action_remote_port: String(random.pick([53, 80, 443, 445, 3389])),
    action_external_hostname: random.pick(DOMAINS),
    action_country: random.pick(COUNTRIES),
    action_process_instance_id: null,
    action_process_causality_id: null,
    action_process_image_name: null,
    action_process_image_sha256: null,
    action_process_image_command_line: null,
    action_process_signature_status: "N/A",
    action_process_signature_vendor: null,
    os_actor_effective_username: null,
    os_actor_process_instance_id: null,
    os_actor_process_image_path: null,
    os_actor_process_image_name: null,
    os_actor_process_command_line: null,
    os_actor_process_signature_status: "N/A",
    os_actor_process_signature_vendor: null,
    os_actor_process_image_sha256: null,
    os_actor_process_causality_id: null,
    os_actor_causality_id: null,
    os_actor_process_os_pid: null,
    os_actor_thread_thread_id: null,
    fw_app_id: isNetwork ? "dns" : null,
    fw_interface_from: null,
    fw_interface_to: null,
    fw_rule: isNetwork ? "allow-outbound" : null,
    fw_rule_id: null,
    fw_device_name: isNetwork ? "PA-3220-edge" : null,
    fw_serial_number: isNetwork ? String(random.int(10 ** 11, 10 ** 12 - 1)) : "",
    fw_url_domain: null,
    fw_email_subject: "",
    fw_email_sender: null,
    fw_email_recipient: null,
    fw_app_subcategory: null,
    fw_app_category: null,
    fw_app_technology: null,
    fw_vsys: null,
    fw_xff: null,
    fw_misc: null,
    fw_is_phishing: "N/A",
    dst_agent_id: null,
    dst_causality_actor_process_execution_time: null,
    dns_query_name: isNetwork ? random.pick(DOMAINS) : null,
    dst_action_external_hostname: null,
    dst_action_country: null,
    dst_action_external_port: null,
    alert_id: String(numericId * 100_000 + index),
    detection_timestamp: detectedAt,
    // Real alert names sometimes carry a trailing space.
    name: random.chance(0.2) ? `${name} ` : name,
    category,
    endpoint_id: endpointId,
    description: `${name} (${category})`,
    host_ip: random.chance(0.3) ? `${ipv4(random, true)}, ${ipv4(random, true)}` : ipv4(random, true),
    host_name: hostName,
    source,
    action: random.pick(["DETECTED", "BLOCKED", "DETECTED_4"]),
    action_pretty: random.pick(["Detected", "Prevented (Blocked)", "Detected (Raised An Alert)"]),
    user_name: random.chance(0.4) ? null : random.pick(USERS),
    contains_featured_host: random.pick(["Yes", "No"]),
    contains_featured_user: random.pick(["Yes", "No"]),
    contains_featured_ip_address: random.pick(["Yes", "No"]),
    tags: tagsAsString ? "DS:PANW/XDR Agent" : ["DS:PANW/XDR Agent", "EG:Windows"],
    original_tags: tagsAsString ? "DS:PANW/XDR Agent" : "None",
  };
}

/** Network and file artifacts of an incident: a handful, fixed by the seed and the incident id. */
export function buildArtifacts(tenant: TenantIdentity, incident: EmulatedIncident) {
  const random = createRandom(tenant.seed, "artifacts", incident.incident_id);
  const alertCount = incident.alert_count;
  const network = Array.from({ length: random.int(0, 4) }, () => {
    const isDomain = random.chance(0.5);
    return {
      type: isDomain ? "DOMAIN" : "IP",
      alert_count: random.int(1, Math.max(1, alertCount)),
      is_manual: false,
      network_domain: isDomain ? random.pick(DOMAINS) : null,
      network_remote_ip: ipv4(random, false),
      network_remote_port: String(random.pick([53, 80, 443, 8443])),
      network_country: random.pick(COUNTRIES),
    };
  });
  const files = Array.from({ length: random.int(0, 3) }, () => {
    const verdict = random.pick(WILDFIRE);
    return {
      alert_count: random.int(1, Math.max(1, alertCount)),
      file_name: random.pick(FILE_NAMES),
      File_sha256: random.hex(64),
      file_signature_status: random.pick(["SIGNATURE_UNAVAILABLE", "SIGNATURE_SIGNED", "SIGNATURE_UNSIGNED"]),
      file_signature_vendor_name: random.pick(["N/A", null, "Microsoft Corporation"]),
      file_wildfire_verdict: verdict,
      is_malicous: verdict === "MALWARE",
      is_manual: false,
      is_process: random.chance(0.4),
      low_confidence: random.chance(0.5),
      type: "HASH",
    };
  });
  return {
    network_artifacts: { total_count: network.length, data: network },
    file_artifacts: { total_count: files.length, data: files },
  };
}

export function resolveComment(random: Random, status: string): string {
  return random.pick([
    `Closed as ${status.replace("resolved_", "").replaceAll("_", " ")}`,
    "Reimaged the endpoint and reset the user's credentials.",
    "Expected behaviour of an approved tool. ",
  ]);
}
