"""SQLAlchemy models, split by domain. Importing this package registers every table."""
from app.models.account import ROLES, Account, ApiKey, User
from app.models.audit import AuditEvent
from app.models.budget import AccountSpend
from app.models.campaign import Campaign, CampaignStatus
from app.models.base import get_owned, new_id, scoped, utcnow
from app.models.contact import Contact, Group, OptOut, group_members
from app.models.contact_import import ContactImport
from app.models.keyword import Keyword
from app.models.message import DeliveryReport, IdempotencyKey, Message, Status
from app.models.sender import SenderProfile
from app.models.simulator import SimulatorSubmission
from app.models.usage import UsageDaily, UsageRollup
from app.models.webhook import DeliveryState, WebhookAttempt, WebhookDelivery

__all__ = [
    "ROLES", "Account", "AccountSpend", "ApiKey", "AuditEvent", "User", "Campaign", "CampaignStatus", "get_owned", "new_id", "scoped", "utcnow",
    "Contact", "ContactImport", "Group", "Keyword", "OptOut", "group_members",
    "DeliveryReport", "IdempotencyKey", "Message", "Status", "SenderProfile", "SimulatorSubmission",
    "UsageDaily", "UsageRollup", "DeliveryState", "WebhookAttempt", "WebhookDelivery",
]
