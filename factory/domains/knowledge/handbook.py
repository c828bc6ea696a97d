"""The fabricated company's handbook and its Q&A items, rendered from the fact base.

Each page is a markdown document (about, accounts, cards, loans, service, policies, a fee
schedule of tables, an FAQ); each `##` section is a passage. Every fact is written once into
its section and asked about in several phrasings, each answered from that section: direct
questions, "can I ..." questions, comparisons and multi-fact questions (cited to the fee
schedule or the product pages), plus questions the handbook cannot answer. Every number a
section prints is recorded with it, so the numbers verifier can vouch for the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from factory.domains._documents import ABSTAIN, Corpus, Passage, QAItem
from factory.domains._text import money
from factory.domains.knowledge.company import Account, Card, Company, Loan, fact_base


def pct(value: float) -> str:
    """A rate kept in percent units: 4.05 -> "4.05%", 3.0 -> "3%"."""
    return f"{value:g}%" if float(value).is_integer() else f"{value:.2f}%"


def hour(h: int) -> str:
    """A whole hour on the 12-hour clock: 8 -> "8 a.m.", 20 -> "8 p.m."."""
    return f"{h} a.m." if h < 12 else f"{12 if h == 12 else h - 12} p.m."


def hour_value(h: int) -> float:
    return float(h if h <= 12 else h - 12)


@dataclass
class _Section:
    path: str
    heading: str
    lines: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)

    def say(self, line: str, *numbers: float) -> str:
        self.lines.append(line)
        self.numbers.extend(float(n) for n in numbers)
        return line

    @property
    def id(self) -> str:
        return f"{self.path} § {self.heading}"


@dataclass
class _Book:
    company: Company
    sections: list[_Section] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    items: list[QAItem] = field(default_factory=list)

    def section(self, path: str, heading: str) -> _Section:
        found = _Section(path, heading)
        self.sections.append(found)
        return found

    def find(self, path: str, heading: str) -> _Section:
        return next(s for s in self.sections if s.path == path and s.heading == heading)

    def ask(
        self,
        fact: str,
        questions: tuple[str, ...] | list[str],
        sections: tuple[_Section, ...] | _Section,
        answer: str,
        expected: tuple[str, ...],
        quote: tuple[str, ...],
        kind: str = "direct",
        kinds: dict[int, str] | None = None,
    ) -> None:
        """One item per phrasing of a fact (`kinds` overrides the kind of some phrasings)."""
        cited = sections if isinstance(sections, tuple) else (sections,)
        for i, question in enumerate(questions):
            self.items.append(
                QAItem(
                    question=question,
                    kind=(kinds or {}).get(i, kind),
                    fact=fact,
                    sources=tuple(s.id for s in cited),
                    answer=answer,
                    expected=expected,
                    quote=quote,
                )
            )


def build_company_corpus(seed: int) -> Corpus:
    """The fabricated company of `seed`: its documents, passages and Q&A items."""
    company = fact_base(seed)
    book = _Book(company)
    _about(book)
    for account in company.accounts:
        _account(book, account)
    for card in company.cards:
        _card(book, card)
    for loan in company.loans:
        _loan(book, loan)
    _fee_schedule(book)
    _service(book)
    _policies(book)
    _faq(book)
    passages = tuple(
        Passage(s.path, s.heading, "\n".join(s.lines), tuple(s.numbers)) for s in book.sections
    )
    documents = _documents(book)
    unanswerable = _unanswerable(company, passages)
    unanswerable += _reworded(list(unanswerable), company)
    answerable = tuple(book.items) + _reworded(book.items, company)
    return Corpus(
        company=company.name,
        documents=documents,
        passages=passages,
        items=answerable + unanswerable,
        report={"source": "fabricated", "company": company.name, "documents": {}},
    )


def _documents(book: _Book) -> dict[str, str]:
    pages: dict[str, list[str]] = {}
    for s in book.sections:
        page = pages.setdefault(s.path, [f"# {book.titles[s.path]}", ""])
        page += [f"## {s.heading}", "", *s.lines, ""]
    return {path: "\n".join(lines).rstrip() + "\n" for path, lines in pages.items()}


def _about(book: _Book) -> None:
    c = book.company
    book.titles["about.md"] = f"About {c.name}"
    who = book.section("about.md", "Who we are")
    intro = who.say(
        f"{c.name} is a fictional member-owned bank headquartered in {c.city}. It offers "
        "checking and savings accounts, credit cards, and personal and auto loans."
    )
    size = who.say(
        f"It serves {c.members:,} members through {c.branches} branches, a mobile app, online "
        "banking and a phone line.",
        c.members,
        c.branches,
    )
    book.ask(
        "what_is",
        (f"What is {c.name}?", f"What does {c.name} do?", f"Tell me about {c.name}.",
         f"What kind of company is {c.short}?", f"What products does {c.name} offer?"),
        who, intro, (c.name, c.city), (intro,),
    )  # fmt: skip
    book.ask(
        "headquarters",
        (f"Where is {c.name} headquartered?", f"Which city is {c.short} based in?",
         f"Where is the head office of {c.name}?"),
        who, f"{c.name} is headquartered in {c.city}.", (c.city,), (intro,),
    )  # fmt: skip
    book.ask(
        "members",
        (f"How many members does {c.short} have?", f"How big is {c.name}?",
         f"How many people bank with {c.short}?"),
        who, f"{c.name} serves {c.members:,} members.", (f"{c.members:,}",), (size,),
    )  # fmt: skip
    book.ask(
        "branches",
        (f"How many branches does {c.name} have?", f"How many branch locations does {c.short} "
         "run?", f"How many {c.short} branches are there?"),
        who, f"{c.name} has {c.branches} branches.", (str(c.branches),), (size,),
    )  # fmt: skip

    lead = book.section("about.md", "Leadership")
    ceo = lead.say(f"{c.ceo} is the Chief Executive Officer.")
    cfo = lead.say(f"{c.cfo} is the Chief Financial Officer.")
    founder = lead.say(f"{c.name} was founded by {c.founder}.")
    book.ask(
        "ceo",
        (f"Who is the CEO of {c.name}?", f"Who runs {c.short}?",
         f"Who is the chief executive at {c.short}?", f"Who leads {c.name}?"),
        lead, f"{c.ceo} is the Chief Executive Officer of {c.name}.", (c.ceo,), (ceo,),
    )  # fmt: skip
    book.ask(
        "cfo",
        (f"Who is the CFO of {c.name}?", f"Who is the chief financial officer at {c.short}?",
         f"Who is in charge of finance at {c.short}?"),
        lead, f"{c.cfo} is the Chief Financial Officer of {c.name}.", (c.cfo,), (cfo,),
    )  # fmt: skip
    book.ask(
        "founder",
        (f"Who founded {c.name}?", f"Who started {c.short}?"),
        lead, f"{c.name} was founded by {c.founder}.", (c.founder,), (founder,),
    )  # fmt: skip

    history = book.section("about.md", "History")
    (y1, e1), (y2, e2), (y3, e3) = c.milestones
    line = history.say(f"{c.name} {e1} in {y1}, {e2} in {y2} and {e3} in {y3}.", y1, y2, y3)
    book.ask(
        "founded",
        (f"When was {c.name} founded?", f"What year did {c.short} open its first branch?",
         f"How old is {c.name}?", f"Since when has {c.short} been around?"),
        history, f"{c.name} {e1} in {y1}.", (str(y1),), (line,),
    )  # fmt: skip
    book.ask(
        "online_banking",
        (f"When did {c.short} launch online banking?", "What year did online banking start?"),
        history, f"{c.name} {e2} in {y2}.", (str(y2),), (line,),
    )  # fmt: skip
    book.ask(
        "mobile_app",
        (f"When did {c.short} introduce its mobile app?", "What year did the mobile app come out?"),
        history, f"{c.name} {e3} in {y3}.", (str(y3),), (line,),
    )  # fmt: skip

    reg = book.section("about.md", "Regulatory registrations")
    registered = reg.say(
        f"{c.name} is registered with the {c.regulator}, a fictional regulator, under "
        f"registration number {c.registration}."
    )
    protected = reg.say(f"{c.routing_note}.", 250000)
    book.ask(
        "registration",
        (f"What is {c.short}'s registration number?", f"Under which number is {c.name} "
         "registered?", f"What is the regulatory registration of {c.name}?"),
        reg, f"{c.name} is registered under registration number {c.registration}.",
        (c.registration,), (registered,),
    )  # fmt: skip
    book.ask(
        "regulator",
        (f"Who regulates {c.name}?", f"Which regulator is {c.short} registered with?",
         f"Is {c.name} a registered bank?"),
        reg, f"{c.name} is registered with the {c.regulator}.", (c.regulator,), (registered,),
    )  # fmt: skip
    book.ask(
        "deposit_protection",
        ("How much of my deposits is protected?", f"Are deposits at {c.short} protected, and up "
         "to what amount?", "What is the deposit protection limit?"),
        reg, f"{c.routing_note}.", ("$250,000",), (protected,),
    )  # fmt: skip


def _account(book: _Book, a: Account) -> None:
    c = book.company
    book.titles["accounts.md"] = "Accounts"
    s = book.section("accounts.md", a.name)
    if a.monthly_fee:
        fee = s.say(f"{a.name} has a monthly fee of {money(a.monthly_fee)}.", a.monthly_fee)
        waiver = s.say(
            f"The monthly fee is waived in any month the daily balance stays at or above "
            f"{money(a.waiver_balance)}.",
            a.waiver_balance,
        )
        book.ask(
            f"{a.name}:monthly_fee",
            (f"What is the monthly fee for {a.name}?", f"How much does {a.name} cost per month?",
             f"What does {c.short} charge each month for {a.name}?",
             f"Is there a monthly fee on {a.name}?", f"What's the maintenance fee on {a.name}?"),
            s, f"{a.name} has a monthly fee of {money(a.monthly_fee)}.",
            (money(a.monthly_fee),), (fee,),
        )  # fmt: skip
        book.ask(
            f"{a.name}:waiver",
            (f"How can I avoid the {a.name} monthly fee?", f"Can I get the monthly fee on "
             f"{a.name} waived?", f"What balance waives the {a.name} fee?",
             f"Is there a way to skip the {a.name} monthly fee?"),
            s, f"Yes. The {a.name} monthly fee is waived in any month the daily balance stays "
            f"at or above {money(a.waiver_balance)}.", (money(a.waiver_balance),), (waiver,),
            kinds={1: "can_i", 3: "can_i"},
        )  # fmt: skip
    else:
        fee = s.say(f"{a.name} has no monthly fee.")
        book.ask(
            f"{a.name}:monthly_fee",
            (f"Is there a monthly fee on {a.name}?", f"How much does {a.name} cost per month?",
             f"Does {a.name} charge a maintenance fee?"),
            s, f"{a.name} has no monthly fee.", ("no monthly fee",), (fee,),
        )  # fmt: skip
    if a.apy is not None:
        rate = s.say(f"{a.name} pays {pct(a.apy)} APY.", a.apy)
        book.ask(
            f"{a.name}:apy",
            (f"What interest rate does {a.name} pay?", f"What is the APY on {a.name}?",
             f"How much interest will I earn with {a.name}?", f"What's the {a.name} rate?"),
            s, f"{a.name} pays {pct(a.apy)} APY.", (pct(a.apy),), (rate,),
        )  # fmt: skip
    if a.withdrawals is not None:
        limit = s.say(f"Up to {a.withdrawals} withdrawals a month are free.", a.withdrawals)
        book.ask(
            f"{a.name}:withdrawals",
            (f"How many withdrawals can I make from {a.name} each month?",
             f"Is there a withdrawal limit on {a.name}?",
             f"How many free withdrawals does {a.name} allow?"),
            s, f"{a.name} allows up to {a.withdrawals} free withdrawals a month.",
            (str(a.withdrawals),), (limit,),
        )  # fmt: skip
    deposit = s.say(
        f"The minimum opening deposit is {money(a.opening_deposit)}.", a.opening_deposit
    )
    book.ask(
        f"{a.name}:opening_deposit",
        (f"How much do I need to open {a.name}?", f"What is the minimum deposit to open "
         f"{a.name}?", f"What's the opening deposit for {a.name}?"),
        s, f"The minimum opening deposit for {a.name} is {money(a.opening_deposit)}.",
        (money(a.opening_deposit),), (deposit,),
    )  # fmt: skip
    if a.max_age is not None:
        ages = s.say(f"{a.name} is for savers aged {a.min_age} to {a.max_age}.",
                     a.min_age, a.max_age)  # fmt: skip
        book.ask(
            f"{a.name}:eligibility",
            (f"Who can open {a.name}?", f"Can a {a.min_age - 1}-year-old open {a.name}?",
             f"Can I open {a.name} if I am {a.max_age + 2}?", f"What ages is {a.name} for?"),
            s, f"{a.name} is for savers aged {a.min_age} to {a.max_age}.",
            (str(a.min_age), str(a.max_age)), (ages,), kinds={1: "can_i", 2: "can_i"},
        )  # fmt: skip
    else:
        ages = s.say(f"Applicants must be at least {a.min_age} years old.", a.min_age)
        book.ask(
            f"{a.name}:eligibility",
            (f"Can I open {a.name} at {a.min_age - 2}?", f"How old do I have to be to open "
             f"{a.name}?", f"What is the minimum age for {a.name}?",
             f"Can a {a.min_age - 1}-year-old get {a.name}?"),
            s, f"{a.name} applicants must be at least {a.min_age} years old.",
            (str(a.min_age),), (ages,), kinds={0: "can_i", 3: "can_i"},
        )  # fmt: skip
    if a.overdraft_fee is not None:
        od = s.say(f"The overdraft fee is {money(a.overdraft_fee)} per item.", a.overdraft_fee)
        book.ask(
            f"{a.name}:overdraft_fee",
            (f"What is the overdraft fee on {a.name}?", f"How much will I be charged if I "
             f"overdraw {a.name}?", f"What does an overdraft cost on {a.name}?"),
            s, f"The {a.name} overdraft fee is {money(a.overdraft_fee)} per item.",
            (money(a.overdraft_fee),), (od,),
        )  # fmt: skip
        if a.monthly_fee:
            book.ask(
                f"{a.name}:fees",
                (f"What are the monthly fee and the overdraft fee of {a.name}?",
                 f"Which fees does {a.name} charge?"),
                s, f"{a.name} has a monthly fee of {money(a.monthly_fee)} and an overdraft "
                f"fee of {money(a.overdraft_fee)} per item.",
                (money(a.monthly_fee), money(a.overdraft_fee)), (fee, od), kind="multi_fact",
            )  # fmt: skip


def _card(book: _Book, card: Card) -> None:
    c = book.company
    book.titles["cards.md"] = "Credit cards"
    s = book.section("cards.md", card.name)
    if card.annual_fee:
        annual = s.say(f"The {card.name} has an annual fee of {money(card.annual_fee)}.",
                       card.annual_fee)  # fmt: skip
        annual_answer = f"The {card.name} has an annual fee of {money(card.annual_fee)}."
        annual_expected = money(card.annual_fee)
    else:
        annual = s.say(f"The {card.name} has no annual fee.")
        annual_answer, annual_expected = annual, "no annual fee"
    book.ask(
        f"{card.name}:annual_fee",
        (f"What is the annual fee on the {card.name}?", f"Does the {card.name} have an annual "
         "fee?", f"How much does the {card.name} cost per year?",
         f"Is there a yearly fee for the {c.short} {card.name}?"),
        s, annual_answer, (annual_expected,), (annual,),
    )  # fmt: skip
    apr = s.say(f"The purchase APR is {pct(card.apr)}.", card.apr)
    book.ask(
        f"{card.name}:apr",
        (f"What is the APR on the {card.name}?", f"What interest rate does the {card.name} "
         "charge?", f"What's the purchase rate of the {card.name}?",
         f"How much interest do I pay on the {card.name}?"),
        s, f"The {card.name} has a purchase APR of {pct(card.apr)}.", (pct(card.apr),), (apr,),
    )  # fmt: skip
    if card.foreign_fee:
        foreign = s.say(f"The foreign transaction fee is {pct(card.foreign_fee)}.",
                        card.foreign_fee)  # fmt: skip
        answer, expected = (f"The {card.name} charges a foreign transaction fee of "
                            f"{pct(card.foreign_fee)}."), pct(card.foreign_fee)  # fmt: skip
    else:
        foreign = s.say("There is no foreign transaction fee.")
        answer, expected = f"The {card.name} has no foreign transaction fee.", "no foreign"
    book.ask(
        f"{card.name}:foreign_fee",
        (f"Does the {card.name} charge foreign transaction fees?", f"What is the foreign "
         f"transaction fee on the {card.name}?", f"Can I use the {card.name} abroad without "
         "a fee?"),
        s, answer, (expected,), (foreign,), kinds={2: "can_i"},
    )  # fmt: skip
    if card.cash_back is not None:
        back = s.say(f"It earns {pct(card.cash_back)} cash back on every purchase.",
                     card.cash_back)  # fmt: skip
        book.ask(
            f"{card.name}:cash_back",
            (f"How much cash back does the {card.name} earn?", f"What rewards does the "
             f"{card.name} give?", f"Can I earn cash back with the {card.name}?"),
            s, f"The {card.name} earns {pct(card.cash_back)} cash back on every purchase.",
            (pct(card.cash_back),), (back,), kinds={2: "can_i"},
        )  # fmt: skip
    limit = s.say(f"Credit limits go up to {money(card.credit_limit)}.", card.credit_limit)
    book.ask(
        f"{card.name}:limit",
        (f"What is the highest credit limit on the {card.name}?", f"How high can my "
         f"{card.name} limit go?", f"What's the maximum credit line for the {card.name}?"),
        s, f"{card.name} credit limits go up to {money(card.credit_limit)}.",
        (money(card.credit_limit),), (limit,),
    )  # fmt: skip
    score = s.say(f"Applicants need a credit score of at least {card.min_score}.",
                  card.min_score)  # fmt: skip
    book.ask(
        f"{card.name}:eligibility",
        (f"What credit score do I need for the {card.name}?", f"Can I get the {card.name} "
         f"with a score of {card.min_score - 40}?", f"What is the minimum credit score for "
         f"the {card.name}?", f"Who qualifies for the {card.name}?"),
        s, f"{card.name} applicants need a credit score of at least {card.min_score}.",
        (str(card.min_score),), (score,), kinds={1: "can_i"},
    )  # fmt: skip
    book.ask(
        f"{card.name}:costs",
        (f"What are the APR and the annual fee of the {card.name}?", f"Summarise the costs "
         f"of the {card.name}."),
        s, f"{annual_answer} The purchase APR is {pct(card.apr)}.",
        (annual_expected, pct(card.apr)), (annual, apr), kind="multi_fact",
    )  # fmt: skip


def _loan(book: _Book, loan: Loan) -> None:
    book.titles["loans.md"] = "Loans"
    s = book.section("loans.md", loan.name)
    amounts = s.say(
        f"{loan.name}s range from {money(loan.amount_low)} to {money(loan.amount_high)}, with "
        f"terms of up to {loan.max_term} months.",
        loan.amount_low, loan.amount_high, loan.max_term,
    )  # fmt: skip
    rates = s.say(f"APRs range from {pct(loan.apr_low)} to {pct(loan.apr_high)}.",
                  loan.apr_low, loan.apr_high)  # fmt: skip
    if loan.origination_fee:
        origination = s.say(
            f"The origination fee is {pct(loan.origination_fee)} of the loan amount.",
            loan.origination_fee,
        )
        orig_expected = pct(loan.origination_fee)
    else:
        origination = s.say("There is no origination fee.")
        orig_expected = "no origination fee"
    score = s.say(f"Applicants need a credit score of at least {loan.min_score}.",
                  loan.min_score)  # fmt: skip
    name = loan.name.lower()
    book.ask(
        f"{loan.name}:amounts",
        (f"How much can I borrow with a {name}?", f"What is the maximum {name} amount?",
         f"What are the smallest and largest {loan.name}s?", f"Can I borrow "
         f"{money(loan.amount_high * 2)} with a {name}?"),
        s, amounts, (money(loan.amount_low), money(loan.amount_high)), (amounts,),
        kinds={3: "can_i"},
    )  # fmt: skip
    book.ask(
        f"{loan.name}:term",
        (f"What is the longest term for a {name}?", f"How long can I take to repay a {name}?",
         f"How many months can a {name} run?"),
        s, f"{loan.name}s have terms of up to {loan.max_term} months.", (str(loan.max_term),),
        (amounts,),
    )  # fmt: skip
    book.ask(
        f"{loan.name}:apr",
        (f"What are the rates on a {name}?", f"What APR will I get on a {name}?",
         f"What is the interest rate range for {loan.name}s?"),
        s, rates.replace("APRs", f"{loan.name} APRs"), (pct(loan.apr_low), pct(loan.apr_high)),
        (rates,),
    )  # fmt: skip
    book.ask(
        f"{loan.name}:origination",
        (f"Is there an origination fee on a {name}?", f"What upfront fee does a {name} have?"),
        s, f"{loan.name}: {origination[0].lower()}{origination[1:]}", (orig_expected,),
        (origination,),
    )  # fmt: skip
    book.ask(
        f"{loan.name}:eligibility",
        (f"What credit score do I need for a {name}?", f"Can I get a {name} with a credit "
         f"score of {loan.min_score - 50}?", f"Who qualifies for a {name}?"),
        s, f"{loan.name} applicants need a credit score of at least {loan.min_score}.",
        (str(loan.min_score),), (score,), kinds={1: "can_i"},
    )  # fmt: skip


def _table(
    section: _Section, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]
) -> list[str]:
    section.say("| " + " | ".join(header) + " |")
    section.say("|" + "---|" * len(header))
    return [section.say("| " + " | ".join(row) + " |") for row in rows]


def _fee_schedule(book: _Book) -> None:
    c = book.company
    book.titles["fee-schedule.md"] = "Fee schedule"
    accounts = book.section("fee-schedule.md", "Account fees")
    rows = []
    for a in c.accounts:
        rows.append((
            a.name, money(a.monthly_fee), money(a.waiver_balance) if a.monthly_fee else "none",
            money(a.overdraft_fee) if a.overdraft_fee is not None else "none",
            money(a.opening_deposit),
        ))  # fmt: skip
        accounts.numbers += [a.monthly_fee, a.opening_deposit]
        accounts.numbers += [a.waiver_balance] if a.monthly_fee else []
        accounts.numbers += [a.overdraft_fee] if a.overdraft_fee is not None else []
    lines = _table(accounts, ("Account", "Monthly fee", "Balance that waives the fee",
                              "Overdraft fee", "Minimum opening deposit"), rows)  # fmt: skip
    every, premier = c.accounts[:2]
    cheaper = every if every.monthly_fee <= premier.monthly_fee else premier
    book.ask(
        "compare:checking_fee",
        ("Which checking account has the lower monthly fee?", "Is Everyday Checking cheaper "
         "than Premier Checking?", "Compare the monthly fees of the two checking accounts.",
         "Which costs less per month, Everyday Checking or Premier Checking?"),
        accounts, f"{cheaper.name} has the lower monthly fee. Everyday Checking costs "
        f"{money(every.monthly_fee)} a month; Premier Checking costs "
        f"{money(premier.monthly_fee)} a month.",
        (money(every.monthly_fee), money(premier.monthly_fee)), tuple(lines[:2]),
        kind="comparative",
    )  # fmt: skip
    book.ask(
        "compare:opening_deposits",
        ("Which account needs the smallest opening deposit?", "What are the minimum opening "
         "deposits of the accounts?"),
        accounts, "; ".join(f"{a.name} needs a minimum opening deposit of "
                            f"{money(a.opening_deposit)}" for a in c.accounts) + ".",
        tuple(money(a.opening_deposit) for a in c.accounts), tuple(lines), kind="comparative",
    )  # fmt: skip
    saver, youth = c.accounts[2], c.accounts[3]
    better = saver if (saver.apy or 0) >= (youth.apy or 0) else youth
    book.ask(
        "compare:savings_rate",
        ("Which savings account pays more interest?", "Does High-Yield Savings pay more than "
         "Youth Savings?", "Compare the savings rates."),
        (book.find("accounts.md", saver.name), book.find("accounts.md", youth.name)),
        f"{better.name} pays more. High-Yield Savings pays {pct(saver.apy or 0)} APY; Youth "
        f"Savings pays {pct(youth.apy or 0)} APY.", (pct(saver.apy or 0), pct(youth.apy or 0)),
        (f"{saver.name} pays {pct(saver.apy or 0)} APY.",
         f"{youth.name} pays {pct(youth.apy or 0)} APY."), kind="comparative",
    )  # fmt: skip

    cards = book.section("fee-schedule.md", "Card fees and rates")
    card_rows = []
    for card in c.cards:
        card_rows.append((card.name, money(card.annual_fee), pct(card.apr), pct(card.foreign_fee)))
        cards.numbers += [card.annual_fee, card.apr, card.foreign_fee]
    card_lines = _table(cards, ("Card", "Annual fee", "Purchase APR", "Foreign transaction fee"),
                        card_rows)  # fmt: skip
    cash, travel = c.cards
    low = cash if cash.apr <= travel.apr else travel
    book.ask(
        "compare:card_apr",
        ("Which card has the lower APR?", "Which credit card charges less interest?",
         f"Is the APR of the {cash.name} lower than the {travel.name}'s?"),
        cards, f"The {low.name} has the lower purchase APR. The {cash.name} charges "
        f"{pct(cash.apr)}; the {travel.name} charges {pct(travel.apr)}.",
        (pct(cash.apr), pct(travel.apr)), tuple(card_lines), kind="comparative",
    )  # fmt: skip
    book.ask(
        "compare:card_fees",
        ("Which card has the higher annual fee?", "Compare the annual fees of the two cards."),
        cards, f"The {cash.name} has an annual fee of {money(cash.annual_fee)}; the "
        f"{travel.name} has an annual fee of {money(travel.annual_fee)}.",
        (money(cash.annual_fee), money(travel.annual_fee)), tuple(card_lines),
        kind="comparative",
    )  # fmt: skip
    book.ask(
        "compare:travel",
        ("Which card is better for travel abroad?", "Which card has no foreign transaction fee?"),
        cards, f"The {travel.name} charges a foreign transaction fee of "
        f"{pct(travel.foreign_fee)}; the {cash.name} charges {pct(cash.foreign_fee)}.",
        (pct(travel.foreign_fee), pct(cash.foreign_fee)), tuple(card_lines),
        kind="comparative",
    )  # fmt: skip


def _service(book: _Book) -> None:
    c = book.company
    book.titles["service.md"] = "Service hours and channels"
    phone = book.section("service.md", "Phone support")
    (wo, wc), (so, sc) = c.phone_weekday, c.phone_saturday
    hours = phone.say(
        f"The phone line is open Monday to Friday from {hour(wo)} to {hour(wc)} and on "
        f"Saturday from {hour(so)} to {hour(sc)}.",
        hour_value(wo),
        hour_value(wc),
        hour_value(so),
        hour_value(sc),
    )
    book.ask(
        "phone_hours",
        ("When is the phone line open?", f"What are {c.short}'s customer service hours?",
         "Can I call on a Saturday?", "What time does phone support close on weekdays?",
         f"When can I phone {c.name}?"),
        phone, hours, (hour(wo), hour(wc)), (hours,), kinds={2: "can_i"},
    )  # fmt: skip
    chat = book.section("service.md", "Chat and app")
    line = chat.say(
        "Chat support in the mobile app and in online banking answers around the clock, every "
        "day of the year."
    )
    book.ask(
        "chat",
        ("Is chat support available at night?", "When can I reach chat support?",
         "Can I get help in the app on a holiday?"),
        chat, "Yes. " + line, ("around the clock",), (line,), kinds={0: "can_i", 2: "can_i"},
    )  # fmt: skip


def _policies(book: _Book) -> None:
    c = book.company
    book.titles["policies.md"] = "Policies"
    d = book.section("policies.md", "Disputes")
    window = d.say(
        f"Report a card transaction you do not recognise within {c.dispute_days} days of the "
        "statement date.",
        c.dispute_days,
    )
    provisional = d.say(
        f"{c.short} gives provisional credit within {c.provisional_days} business days and "
        f"resolves most disputes within {c.resolution_days} days.",
        c.provisional_days, c.resolution_days,
    )  # fmt: skip
    book.ask(
        "dispute_window",
        ("How long do I have to dispute a card charge?", "What is the deadline to report a "
         "transaction I don't recognise?", "How soon must I report an unknown charge?"),
        d, f"Report a card transaction you do not recognise within {c.dispute_days} days of the "
        "statement date.", (str(c.dispute_days),), (window,),
    )  # fmt: skip
    book.ask(
        "dispute_timing",
        ("How long does a dispute take?", "When do I get provisional credit on a dispute?",
         "How quickly are disputes resolved?"),
        d, provisional, (str(c.provisional_days), str(c.resolution_days)), (provisional,),
    )  # fmt: skip
    o = book.section("policies.md", "Overdraft")
    cap = o.say(
        f"Overdraft fees are charged at most {c.overdraft_cap} times per day.", c.overdraft_cap
    )
    buffer = o.say(
        f"No fee is charged when the account is overdrawn by {money(c.overdraft_buffer)} or less.",
        c.overdraft_buffer,
    )
    book.ask(
        "overdraft_cap",
        ("How many overdraft fees can I be charged in one day?", "Is there a daily limit on "
         "overdraft fees?", "What is the maximum number of overdraft fees per day?"),
        o, cap, (str(c.overdraft_cap),), (cap,),
    )  # fmt: skip
    book.ask(
        "overdraft_buffer",
        ("Will I pay a fee if I'm overdrawn by a small amount?", "Is there an overdraft "
         "cushion?", "How much can I overdraw without a fee?"),
        o, buffer, (money(c.overdraft_buffer),), (buffer,), kinds={0: "can_i"},
    )  # fmt: skip
    m = book.section("policies.md", "Complaints")
    complaint = m.say(
        f"Complaints are acknowledged within {c.complaint_ack_days} business days and "
        f"answered in full within {c.complaint_reply_days} business days.",
        c.complaint_ack_days, c.complaint_reply_days,
    )  # fmt: skip
    book.ask(
        "complaints",
        ("How long does it take to handle a complaint?", "When will I hear back about my "
         "complaint?", f"How fast does {c.short} answer complaints?"),
        m, complaint, (str(c.complaint_ack_days), str(c.complaint_reply_days)), (complaint,),
    )  # fmt: skip
    p = book.section("policies.md", "Privacy")
    sell = p.say(f"{c.short} does not sell customer data.")
    keep = p.say(f"Records are kept for {c.retention_years} years after an account closes.",
                 c.retention_years)  # fmt: skip
    opt = p.say("Customers can opt out of marketing in the app or by phone.")
    book.ask(
        "privacy_sale",
        (f"Does {c.short} sell my data?", "Will my personal data be sold?",
         f"Is my information shared for sale by {c.name}?"),
        p, f"No. {sell}", ("does not sell",), (sell,),
    )  # fmt: skip
    book.ask(
        "privacy_retention",
        ("How long are my records kept?", "How long does the bank keep data after I close my "
         "account?"),
        p, keep, (str(c.retention_years),), (keep,),
    )  # fmt: skip
    book.ask(
        "privacy_opt_out",
        ("Can I opt out of marketing?", "How do I stop marketing messages?"),
        p, f"Yes. {opt}", ("opt out",), (opt,), kinds={0: "can_i"},
    )  # fmt: skip


def _faq(book: _Book) -> None:
    c = book.company
    book.titles["faq.md"] = "Frequently asked questions"
    every = c.accounts[0]
    q1 = book.section("faq.md", "How do I open an account?")
    line = q1.say(
        f"Download the {c.short} app or visit a branch. Everyday Checking needs an opening "
        f"deposit of {money(every.opening_deposit)}.",
        every.opening_deposit,
    )
    book.ask(
        "faq:open",
        ("How do I open an account?", f"What's the easiest way to open a {c.short} account?",
         "Can I open an account in the app?"),
        q1, line, (money(every.opening_deposit),), (line,), kinds={2: "can_i"},
    )  # fmt: skip
    q2 = book.section("faq.md", "What should I do if my card is lost?")
    lost = q2.say("Freeze the card in the app at once, then report it through chat or by phone.")
    book.ask(
        "faq:lost",
        ("What should I do if I lose my card?", "My card was stolen. What now?",
         "Can I freeze my card?"),
        q2, lost, ("Freeze the card",), (lost,), kinds={2: "can_i"},
    )  # fmt: skip


#: How a user wraps a question: "Quick question: ...", "... Please cite the handbook."
_WRAPPERS = (
    "Quick question: {q}",
    "{q} Please cite the handbook.",
    "According to the {short} documents: {q}",
    "Hi, {q_lower}",
    "{q} I could not find it in the app.",
)


def _reworded(items: list[QAItem], company: Company) -> tuple[QAItem, ...]:
    """Each question once more in a user's own wrapping (the same answer)."""
    out = []
    for i, item in enumerate(items):
        wrapper = _WRAPPERS[i % len(_WRAPPERS)]
        q = item.question
        text = wrapper.format(q=q, q_lower=q[0].lower() + q[1:], short=company.short)
        out.append(QAItem(**{**item.__dict__, "question": text}))
    return tuple(out)


#: (topic, absent terms, phrasings): questions the handbook cannot answer.
_UNANSWERABLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("mortgages", ("mortgage",), ("What mortgage rates does {short} offer?",
     "Can I get a mortgage from {name}?", "What is the rate on a 30-year mortgage?")),
    ("student loans", ("student loan",), ("Does {short} offer student loans?",
     "What is the APR on a {short} student loan?")),
    ("safe deposit boxes", ("safe deposit",), ("How much is a safe deposit box?",
     "Can I rent a safe deposit box at a branch?")),
    ("wire transfers", ("wire",), ("What is the fee for an international wire transfer?",
     "What is the cut-off time for same-day wires?", "Can I send a wire from the app?")),
    ("cryptocurrency", ("crypto",), ("Can I buy cryptocurrency with {short}?",
     "Does {name} support crypto trading?")),
    ("business accounts", ("business",), ("Does {short} offer business checking?",
     "What are the fees for a small business account?")),
    ("ATM fees", ("atm",), ("How much does {short} charge at out-of-network ATMs?",
     "Are ATM withdrawals abroad free?")),
    ("Sunday opening", ("sunday",), ("Is the phone line open on Sundays?",
     "Can I call customer service on a Sunday?")),
    ("the technology chief", ("technology officer", "cto"), ("Who is the CTO of {name}?",
     "Who leads technology at {short}?")),
    ("home equity", ("home equity",), ("Does {short} offer home equity lines of credit?",
     "What is the HELOC rate?")),
    ("check ordering", ("checkbook", "cheque"), ("How much does a checkbook cost?",
     "Can I order paper checks?")),
    ("stop payments", ("stop payment",), ("What is the stop payment fee?",
     "How do I stop a payment on a check?")),
    ("investment accounts", ("brokerage", "invest"), ("Does {short} have brokerage accounts?",
     "Can I invest in funds through {name}?")),
    ("salaries", ("salary",), ("What is the CEO's salary?", "How much does the CFO earn?")),
    ("dividends", ("dividend",), ("Does {short} pay member dividends?",
     "What was last year's dividend?")),
    ("coin counting", ("coin",), ("Do branches have coin counting machines?",)),
    ("credit card balance transfers", ("balance transfer",), ("Is there a balance transfer "
     "offer on the cards?", "What is the balance transfer fee?")),
)  # fmt: skip


def _unanswerable(company: Company, passages: tuple[Passage, ...]) -> tuple[QAItem, ...]:
    text = "\n".join(p.text for p in passages).lower()
    items = []
    for topic, absent, phrasings in _UNANSWERABLE:
        if any(term in text for term in absent):
            continue  # the handbook happens to mention it: not an unanswerable question
        for phrasing in phrasings:
            items.append(
                QAItem(
                    question=phrasing.format(short=company.short, name=company.name),
                    kind="unanswerable",
                    fact=f"absent:{topic}",
                    answer=f"{ABSTAIN} anything about {topic}.",
                    absent=absent,
                )
            )
    return tuple(items)
