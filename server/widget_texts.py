"""The visitor widgets' built-in texts, English and Russian, in one place: the config response
carries one language of them under the site's own texts (the widgets hold none of their own, to
stay within the weight budget). Keys are a widget's (``callback.title``) or shared by all
(``phone``); a widget looks up its own key, then the short one (docs/texts.md)."""

from __future__ import annotations

from enum import StrEnum


class Lang(StrEnum):
    EN = "en"
    RU = "ru"


# A kind whose widget also says another kind's texts: the quiz's result repeats the callback's promise;
# the chat's greeting card speaks for the chat (and is reworded in the chat's editor).
BORROWS: dict[str, tuple[str, ...]] = {"quiz": ("callback",), "chat": ("greeter",)}


def language(locale: str, accept_language: str) -> Lang:
    """The site's language if it has one, else the visitor's (their browser's first choice): ru* or English."""
    if locale in (Lang.EN, Lang.RU):
        return Lang(locale)
    return Lang.RU if preferred(accept_language).startswith("ru") else Lang.EN


def preferred(accept_language: str) -> str:
    """The language tag an Accept-Language header likes most (the first of the highest q), lower case."""
    best, best_q = "", 0.0
    for part in accept_language.lower().split(","):
        tag, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag.strip() and q > best_q:
            best, best_q = tag.strip(), q
    return best


def texts_for(lang: Lang, kinds: set[str], overrides: dict[str, str]) -> dict[str, str]:
    """The site's own texts over the built-in ones of the language, for these widget kinds and the shared keys."""
    wanted = kinds | {b for kind in kinds for b in BORROWS.get(kind, ())}
    built = {k: v for k, v in BUILT_IN[lang].items() if "." not in k or k.partition(".")[0] in wanted}
    return built | overrides


# Placeholders {name} are filled by the widget. Countdown units hold plural forms, space-separated:
# English one/other, Russian one/few/many.
EN: dict[str, str] = {
    "close": "Close",
    "phone": "Phone",
    "email": "Email",
    "name": "Name",
    "someone": "A manager",
    "consent": "I agree to be contacted about my request",
    "sending": "Sending…",
    "error": "Something went wrong. Please try again.",
    "copy": "Copy code",
    "copied": "Copied",
    "offline": "You're offline — we saved your request and will send it as soon as you're back online.",
    "required": "Please fill this in.",
    "email_bad": "Please check the email address.",
    "phone_bad": "Please enter a phone number with at least 6 digits.",
    "greeter.reply": "Reply",
    "greeter.label": "Message from {name}",
    "callback.button": "Request a callback",
    "callback.title": "We'll call you back",
    "callback.intro": "Leave your number and we'll call you back.",
    "callback.name": "Name (optional)",
    "callback.website": "Website",
    "callback.submit": "Call me back",
    "callback.phone_short": "Please enter a phone number with at least 6 digits.",
    "callback.thanks": "Thanks! We'll call you back shortly.",
    "callback.thanks_later": "Thanks! We'll call you when we're back.",
    "callback.consent_err": "Please agree to be contacted so that we can call you.",
    "callback.closed": "We're closed right now.",
    "callback.closed_back": "We're closed right now. We're back {when}.",
    "callback.closed_later": "We're closed right now. Leave your number and we'll call you when we're back.",
    "callback.slot": "When should we call?",
    "callback.slot_pick": "Choose a time",
    "callback.slot_err": "Please choose a time for the call.",
    "callback.book": "Book the call",
    "callback.finding": "Finding a manager…",
    "callback.within": "We'll call you within {n} s",
    "callback.by": "We'll call you by {time}",
    "callback.calling": "{manager} is calling you now",
    "callback.keep": "Keep your phone close.",
    "callback.missed": "Sorry — we didn't manage to call you within {promise} s. A manager will call you by {time}.",
    "callback.sched": "We'll call you {when}",
    "callback.between": "on {day} between {from} and {to}",
    "callback.at": "on {day} at {from}",
    "callback.connected": "Thanks for talking to us!",
    "callback.no_answer": "We tried to call but couldn't reach you.",
    "callback.wrong": "We couldn't reach this number. Please check it and try again.",
    "callback.thank": "Thank you.",
    "callback.again": "Request another call",
    "callback.chip_in": "Calling you in {n} s",
    "callback.chip_by": "Calling you by {time}",
    "callback.chip_booked": "Call booked: {when}",
    "callback.chip_no_answer": "We couldn't reach you",
    "callback.chip_wrong": "Please check your number",
    "chat.button": "Open chat",
    "chat.unread": "Open chat ({n} unread)",
    "chat.title": "Chat with us",
    "chat.message": "Message",
    "chat.send": "Send",
    "chat.queued": "Not sent yet — will send when you're back online",
    "chat.sent": "Sent",
    "chat.read": "Read",
    "chat.typing": "{name} is typing…",
    "chat.prechat": "Before we start, please tell us who you are.",
    "chat.away": "We're offline right now. Leave a message and we'll get back to you.",
    "chat.contact": "Please leave an email or a phone number so that we can reply.",
    "chat.submit": "Send message",
    "chat.thanks": "Thanks — we'll get back to you.",
    "chat.callback": "Book a callback instead",
    "chat.rate": "How did we do?",
    "chat.f1": "Very bad",
    "chat.f2": "Bad",
    "chat.f3": "OK",
    "chat.f4": "Good",
    "chat.f5": "Very good",
    "chat.comment": "Anything to add?",
    "chat.rate_send": "Send rating",
    "chat.rated": "Thanks for your rating!",
    "chat.new": "Start a new chat",
    "quiz.next": "Next",
    "quiz.back": "Back",
    "quiz.skip": "Skip",
    "quiz.submit": "Show my result",
    "quiz.result": "Your result",
    "quiz.again": "Start again",
    "quiz.note": "We save your answers as you go so that we can prepare your estimate.",
    "quiz.contact": "Where should we send your result?",
    "quiz.pick": "Please choose at least one option.",
    "quiz.failed": "{label}: we'll confirm this figure when we get in touch.",
    "quiz.saved": "Your answers are saved; the result will appear here once the connection is back.",
    "popup.title": "Special offer",
    "popup.submit": "Send",
    "popup.thanks": "Thank you! We'll be in touch soon.",
    "popup.code": "Here is your code:",
    "popup.consent_err": "Please agree to be contacted.",
    "popup.contact": "Please leave a phone number or an email.",
    "countdown.left": "{time} left",
    "countdown.soon": "less than a minute",
    "countdown.days": "day days",
    "countdown.hours": "hour hours",
    "countdown.minutes": "minute minutes",
    "countdown.min": "min",
    "countdown.sec": "sec",
    "countdown.offer": "Offer",
}
RU: dict[str, str] = {
    "close": "Закрыть",
    "phone": "Телефон",
    "email": "Эл. почта",
    "name": "Имя",
    "someone": "Менеджер",
    "consent": "Я согласен(на), чтобы со мной связались по моей заявке",
    "sending": "Отправляем…",
    "error": "Что-то пошло не так. Попробуйте ещё раз.",
    "copy": "Скопировать код",
    "copied": "Скопировано",
    "offline": "Нет соединения — мы сохранили вашу заявку и отправим её, как только связь восстановится.",
    "required": "Заполните это поле.",
    "email_bad": "Проверьте адрес почты.",
    "phone_bad": "Введите номер телефона — не меньше 6 цифр.",
    "greeter.reply": "Ответить",
    "greeter.label": "Сообщение от {name}",
    "callback.button": "Заказать обратный звонок",
    "callback.title": "Мы вам перезвоним",
    "callback.intro": "Оставьте номер, и мы вам перезвоним.",
    "callback.name": "Имя (необязательно)",
    "callback.website": "Сайт",
    "callback.submit": "Перезвоните мне",
    "callback.phone_short": "Введите номер телефона — не меньше 6 цифр.",
    "callback.thanks": "Спасибо! Мы скоро вам перезвоним.",
    "callback.thanks_later": "Спасибо! Мы позвоним, когда вернёмся.",
    "callback.consent_err": "Отметьте согласие, чтобы мы могли вам позвонить.",
    "callback.closed": "Сейчас мы не работаем.",
    "callback.closed_back": "Сейчас мы не работаем. Вернёмся {when}.",
    "callback.closed_later": "Сейчас мы не работаем. Оставьте номер — мы позвоним, когда вернёмся.",
    "callback.slot": "Когда вам позвонить?",
    "callback.slot_pick": "Выберите время",
    "callback.slot_err": "Выберите время для звонка.",
    "callback.book": "Заказать звонок",
    "callback.finding": "Ищем менеджера…",
    "callback.within": "Позвоним вам в течение {n} с",
    "callback.by": "Позвоним вам до {time}",
    "callback.calling": "{manager} звонит вам прямо сейчас",
    "callback.keep": "Держите телефон под рукой.",
    "callback.missed": "Простите — мы не успели позвонить за {promise} с. Менеджер позвонит вам до {time}.",
    "callback.sched": "Мы позвоним вам {when}",
    "callback.between": "{day} с {from} до {to}",
    "callback.at": "{day} в {from}",
    "callback.connected": "Спасибо за разговор!",
    "callback.no_answer": "Мы звонили, но не смогли до вас дозвониться.",
    "callback.wrong": "Не удалось дозвониться по этому номеру. Проверьте его и попробуйте ещё раз.",
    "callback.thank": "Спасибо.",
    "callback.again": "Заказать ещё один звонок",
    "callback.chip_in": "Позвоним через {n} с",
    "callback.chip_by": "Позвоним до {time}",
    "callback.chip_booked": "Звонок: {when}",
    "callback.chip_no_answer": "Не дозвонились",
    "callback.chip_wrong": "Проверьте номер",
    "chat.button": "Открыть чат",
    "chat.unread": "Открыть чат (непрочитанных: {n})",
    "chat.title": "Напишите нам",
    "chat.message": "Сообщение",
    "chat.send": "Отправить",
    "chat.queued": "Ещё не отправлено — отправим, когда появится связь",
    "chat.sent": "Отправлено",
    "chat.read": "Прочитано",
    "chat.typing": "{name} печатает…",
    "chat.prechat": "Прежде чем начать, представьтесь, пожалуйста.",
    "chat.away": "Сейчас мы не в сети. Оставьте сообщение — мы вам ответим.",
    "chat.contact": "Оставьте почту или телефон, чтобы мы могли ответить.",
    "chat.submit": "Отправить сообщение",
    "chat.thanks": "Спасибо — мы вам ответим.",
    "chat.callback": "Лучше заказать звонок",
    "chat.rate": "Как мы справились?",
    "chat.f1": "Очень плохо",
    "chat.f2": "Плохо",
    "chat.f3": "Нормально",
    "chat.f4": "Хорошо",
    "chat.f5": "Отлично",
    "chat.comment": "Хотите что-то добавить?",
    "chat.rate_send": "Отправить оценку",
    "chat.rated": "Спасибо за оценку!",
    "chat.new": "Начать новый чат",
    "quiz.next": "Далее",
    "quiz.back": "Назад",
    "quiz.skip": "Пропустить",
    "quiz.submit": "Показать результат",
    "quiz.result": "Ваш результат",
    "quiz.again": "Пройти заново",
    "quiz.note": "Мы сохраняем ответы по ходу теста, чтобы подготовить расчёт.",
    "quiz.contact": "Куда отправить результат?",
    "quiz.pick": "Выберите хотя бы один вариант.",
    "quiz.failed": "{label}: уточним эту цифру, когда свяжемся с вами.",
    "quiz.saved": "Ответы сохранены. Результат появится, когда восстановится связь.",
    "popup.title": "Специальное предложение",
    "popup.submit": "Отправить",
    "popup.thanks": "Спасибо! Мы скоро с вами свяжемся.",
    "popup.code": "Ваш промокод:",
    "popup.consent_err": "Отметьте согласие, чтобы мы могли с вами связаться.",
    "popup.contact": "Оставьте телефон или почту.",
    "countdown.left": "Осталось: {time}",
    "countdown.soon": "меньше минуты",
    "countdown.days": "день дня дней",
    "countdown.hours": "час часа часов",
    "countdown.minutes": "минута минуты минут",
    "countdown.min": "мин",
    "countdown.sec": "сек",
    "countdown.offer": "Предложение",
}

BUILT_IN: dict[Lang, dict[str, str]] = {Lang.EN: EN, Lang.RU: RU}

# -- The widget editor's "All texts" section (server/dashboard/widgets.py, static/editor.js) --------
# A label in words for every key, so that an owner finds the text they want to reword without
# reading keys. A key without one is shown by its key; tests/integration/test_widget_editor.py
# guards that none is missing.

LABELS: dict[str, str] = {
    "close": "Close button",
    "phone": "Phone field",
    "email": "Email field",
    "name": "Name field",
    "someone": "A manager without a name",
    "consent": "Consent checkbox",
    "sending": "While sending",
    "error": "When something goes wrong",
    "copy": "Copy the code button",
    "copied": "After copying the code",
    "offline": "Request saved while offline",
    "required": "A required field left empty",
    "email_bad": "A wrong email address",
    "phone_bad": "A phone number too short",
    "callback.button": "Button",
    "callback.title": "Title",
    "callback.intro": "Intro",
    "callback.name": "Name field (optional)",
    "callback.website": "Hidden anti-spam field",
    "callback.submit": "Submit button",
    "callback.phone_short": "A phone number too short (callback form)",
    "callback.thanks": "Thanks",
    "callback.thanks_later": "Thanks, outside working hours",
    "callback.consent_err": "Consent not given",
    "callback.closed": "Closed now",
    "callback.closed_back": "Closed now, back at ({when})",
    "callback.closed_later": "Closed now, call when back",
    "callback.slot": "When should we call? (question)",
    "callback.slot_pick": "Choose a time (list)",
    "callback.slot_err": "No time chosen",
    "callback.book": "Book the call button",
    "callback.finding": "Finding a manager",
    "callback.within": "Promise: within {n} seconds",
    "callback.by": "Promise: by {time}",
    "callback.calling": "A manager is calling now",
    "callback.keep": "Keep your phone close",
    "callback.missed": "Promise missed, new time",
    "callback.sched": "Call booked for ({when})",
    "callback.between": "Booked: a day between two times",
    "callback.at": "Booked: a day at a time",
    "callback.connected": "After the call",
    "callback.no_answer": "We could not reach you",
    "callback.wrong": "Wrong number",
    "callback.thank": "Thank you (after an outcome)",
    "callback.again": "Request another call button",
    "callback.chip_in": "Corner chip: calling in {n} s",
    "callback.chip_by": "Corner chip: calling by {time}",
    "callback.chip_booked": "Corner chip: call booked",
    "callback.chip_no_answer": "Corner chip: no answer",
    "callback.chip_wrong": "Corner chip: wrong number",
    "chat.button": "Button",
    "chat.unread": "Button with unread messages",
    "chat.title": "Title",
    "chat.message": "Message field",
    "chat.send": "Send button",
    "chat.queued": "Message not sent yet (offline)",
    "chat.sent": "Message sent",
    "chat.read": "Message read",
    "chat.typing": "A manager is typing",
    "greeter.reply": "Greeting card: reply button",
    "greeter.label": "Greeting card: its name for screen readers ({name})",
    "chat.prechat": "Before the chat",
    "chat.away": "When nobody is online",
    "chat.contact": "Asking for a way to reply",
    "chat.submit": "Send the message button (offline form)",
    "chat.thanks": "Thanks for a message",
    "chat.callback": "Book a callback instead (link)",
    "chat.rate": "Rating question",
    "chat.f1": "Rating 1 (very bad)",
    "chat.f2": "Rating 2 (bad)",
    "chat.f3": "Rating 3 (OK)",
    "chat.f4": "Rating 4 (good)",
    "chat.f5": "Rating 5 (very good)",
    "chat.comment": "Rating comment field",
    "chat.rate_send": "Send the rating button",
    "chat.rated": "Thanks for a rating",
    "chat.new": "Start a new chat button",
    "quiz.next": "Next button",
    "quiz.back": "Back button",
    "quiz.skip": "Skip button",
    "quiz.submit": "Show the result button",
    "quiz.result": "Result heading",
    "quiz.again": "Start again button",
    "quiz.note": "Note on saving answers",
    "quiz.contact": "Contact step question",
    "quiz.pick": "No option chosen",
    "quiz.failed": "A figure not worked out",
    "quiz.saved": "Answers saved while offline",
    "popup.title": "Title (when the popup has none)",
    "popup.submit": "Submit button (when none is set)",
    "popup.thanks": "Thanks (without a bonus)",
    "popup.code": "Before the promo code",
    "popup.consent_err": "Consent not given",
    "popup.contact": "Neither phone nor email given",
    "countdown.left": "Time left ({time})",
    "countdown.soon": "Less than a minute",
    "countdown.days": "Days (plural forms)",
    "countdown.hours": "Hours (plural forms)",
    "countdown.minutes": "Minutes (plural forms)",
    "countdown.min": "Minutes, short",
    "countdown.sec": "Seconds, short",
    "countdown.offer": "Name of the timer (when it has no title)",
}


def editor_keys(kind: str) -> list[str]:
    """The keys a widget of this kind can be given in its own ``texts``: its own (the chat's include its
    greeting card's), then the shared ones. A countdown has no form: of the shared texts it says only "close"."""
    shared = ["close"] if kind == "countdown" else [k for k in EN if "." not in k]
    owners = (kind, "greeter") if kind == "chat" else (kind,)
    return [k for k in EN if k.startswith(tuple(o + "." for o in owners))] + shared
