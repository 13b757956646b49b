"""The panel's words for the services' refusals, in the staff member's language."""

from __future__ import annotations

from app.cards.labels import card_state_labels
from app.errors import LaoyouError
from app.i18n import gettext


def error_text(exc: LaoyouError) -> str:
    """A refusal as a sentence; the services' own messages are English, for the API and CLI."""
    template = exc.details.get("template")
    if template:  # a refusal that carries its msgid (the member import's)
        return gettext(template, **exc.details.get("params", {}))
    reason = exc.details.get("reason") or exc.code
    if reason == "sign_in_failed":
        return gettext("Wrong username or password.")
    if reason == "account_locked":
        return gettext(
            "Too many failed sign-ins: this account is locked for 15 minutes. "
            "Try again later, or ask an admin to reset the password."
        )
    if reason == "password_length":
        return gettext("A password has 10 to 200 characters.")
    if reason == "wrong_password":
        return gettext("The current password is wrong.")
    if reason == "username_format":
        return gettext("A username has 2 to 64 letters, digits, dots, dashes or underscores.")
    if reason == "username_taken":
        return gettext("That username is taken.")
    if reason == "store_required":
        return gettext("A store manager or a cashier works at one store: choose it.")
    if reason == "last_admin":
        return gettext("The last active admin cannot be disabled.")
    if reason == "not_found":
        return gettext("Not found.")
    if reason == "self_approval":
        return gettext("You asked for this change: another admin approves it.")
    if reason == "already_decided":
        return gettext("This request was already decided.")
    if reason == "nothing_to_adjust":
        return gettext("Give points, an amount of stored value, or both.")
    if reason == "reason":
        return gettext("An adjustment needs a reason.")
    if reason == "insufficient_funds":
        return gettext("The card does not hold that much.")
    if reason == "card_not_active":
        return gettext("The card is not active (lost, frozen, cancelled or expired).")
    if reason == "amount_too_large":
        return gettext("That amount is larger than one transaction may move.")
    if reason == "illegal_transition":
        return gettext(
            "The card cannot do that in its state now (%(state)s).",
            state=card_state_labels().get(
                str(exc.details.get("state")), str(exc.details.get("state"))
            ),
        )
    if reason == "card_overdrawn":
        return gettext("The card is overdrawn: settle the debt before returning it.")
    if reason == "segment_depth":
        return gettext(
            "The groups are nested too deep: a segment has at most %(limit)s levels "
            "(a NOT group counts two).",
            limit=exc.details.get("limit"),
        )
    if reason == "segment_size":
        return gettext(
            "Too many conditions: a segment holds at most %(limit)s conditions and groups.",
            limit=exc.details.get("limit"),
        )
    if reason == "duplicate_member":
        return gettext("Another member has that phone number.")
    if exc.details.get("field") == "phone":
        return gettext("That is not a phone number.")
    if exc.details.get("field") == "birthday":
        return gettext("The birthday is not a date (YYYY-MM-DD), or is in the future.")
    if exc.details.get("field") == "answers":
        return gettext(
            "An answer to the questionnaire is missing or not of its kind: %(why)s", why=exc.message
        )
    text = _setup_text(reason)
    if text is not None:
        return text
    return gettext("The request was refused: %(why)s", why=exc.message)


def _setup_text(reason: str) -> str | None:
    """Stores, API keys and the questionnaire (the set-up pages)."""
    texts = {
        "store_code": lambda: gettext(
            "A store code has up to 32 letters, digits, dashes or underscores."
        ),
        "store_exists": lambda: gettext("A store with that code exists already."),
        "store_name": lambda: gettext("A store needs a name."),
        "store_name_length": lambda: gettext("A store name has at most 120 characters."),
        "store_region": lambda: gettext("A store needs a region."),
        "store_region_length": lambda: gettext("A region has at most 64 characters."),
        "key_label_length": lambda: gettext("A key's label has at most 120 characters."),
        "question_key": lambda: gettext(
            "A question key has up to 64 letters, digits or underscores (a-z, 0-9, _)."
        ),
        "question_type": lambda: gettext("Choose one of the question types listed."),
        "question_label": lambda: gettext("A question needs a label of at most 200 characters."),
        "question_choices_size": lambda: gettext(
            "At most 50 choices, each of at most 100 characters."
        ),
        "question_choices_twice": lambda: gettext("A choice is listed twice."),
        "question_choices": lambda: gettext(
            "A choice question needs at least two choices, one a line."
        ),
        "question_no_choices": lambda: gettext("Only a choice question takes choices."),
        "question_type_change": lambda: gettext(
            "That key belongs to a question of another type: answers given stay readable "
            "only if you use a new key."
        ),
    }
    text = texts.get(reason)
    return text() if text is not None else None


def role_labels() -> dict[str, str]:
    return {
        "admin": gettext("Admin"),
        "marketer": gettext("Marketer"),
        "store_manager": gettext("Store manager"),
        "cashier": gettext("Cashier"),
    }


def permission_labels() -> dict[str, str]:
    return {
        "rules.view": gettext("See the programme's rules"),
        "rules.edit": gettext("Change the programme's rules"),
        "members.view": gettext("See members"),
        "members.edit": gettext("Change members"),
        "cards.act": gettext("Card actions (lost, freeze, replace…)"),
        "balances.adjust": gettext("Adjust balances"),
        "balances.approve": gettext("Approve adjustments"),
        "staff.manage": gettext("Manage staff and permissions"),
        "audit.view": gettext("Read the audit log"),
        "stores.manage": gettext("Manage stores"),
        "api_keys.manage": gettext("Manage API keys"),
        "campaigns.manage": gettext("Manage campaigns"),
        "reports.view": gettext("See reports"),
        "jobs.view": gettext("See the scheduled jobs and their runs"),
        "jobs.run": gettext("Run a scheduled job now"),
    }


def language_labels() -> dict[str, str]:
    """Each language in its own script, so anyone finds theirs whatever the page shows."""
    return {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}


def card_action_labels() -> dict[str, str]:
    return {
        "report-lost": gettext("Report lost"),
        "found": gettext("Found"),
        "freeze": gettext("Freeze"),
        "unfreeze": gettext("Unfreeze"),
        "replace": gettext("Replace"),
        "cancel": gettext("Cancel"),
        "return": gettext("Return and refund"),
        # Card events the panel does not offer, for a card's history.
        "issue": gettext("Issued"),
        "bind": gettext("Bound to the member"),
        "expire": gettext("Expired"),
        "renew": gettext("Renewed"),
    }


def transaction_kind_labels() -> dict[str, str]:
    return {
        "checkout": gettext("Checkout"),
        "recharge": gettext("Recharge"),
        "refund": gettext("Refund"),
        "adjustment": gettext("Adjustment"),
        "opening": gettext("Opening balance"),
        "return": gettext("Card returned"),
        "redemption": gettext("Redemption"),
        "load": gettext("Value loaded"),
        "expiry": gettext("Points expired"),
        "gift": gettext("Gift"),
        "transfer": gettext("Transfer"),
    }


def gender_labels() -> dict[str, str]:
    return {
        "female": gettext("Female"),
        "male": gettext("Male"),
        "other": gettext("Other"),
        "unknown": gettext("Not given"),
    }
