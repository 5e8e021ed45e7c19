"""What the service records about its use, for staff: feedback, handoff tickets and staff replies,
console accounts, the question log, the audit log and language preferences (``records.store``).

It uses the knowledge package's database settings and nothing else of it; the knowledge package
does not use it. The gateway and the action server use both.
"""
