"""``tokenomy audit``: where a workload's tokens and dollars go, and what each
technique would save on it."""

from tokenomy.audit.core import AuditReport, audit_calls, run_audit, sample_workload_path
from tokenomy.audit.html import render_html
from tokenomy.audit.plugins import AuditContext, AuditedCall, AuditPlugin, SavingsEstimate
from tokenomy.audit.registry import available_plugins, register_audit_plugin
from tokenomy.audit.text import render_text
from tokenomy.audit.workload import LineError, Workload, WorkloadCall, load_workload

__all__ = [
    "AuditContext",
    "AuditPlugin",
    "AuditReport",
    "AuditedCall",
    "LineError",
    "SavingsEstimate",
    "Workload",
    "WorkloadCall",
    "audit_calls",
    "available_plugins",
    "load_workload",
    "register_audit_plugin",
    "render_html",
    "render_text",
    "run_audit",
    "sample_workload_path",
]
