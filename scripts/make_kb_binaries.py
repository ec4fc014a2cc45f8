"""Regenerate the binary sample documents of knowledge_base/ (PDF and Word) from the text below.

Needs reportlab and python-docx (`pip install reportlab python-docx`); the outputs are committed, so
users never run this.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "knowledge_base"

ROUTER_MANUAL = [
    (
        "NW-AX3000 Router User Manual",
        [
            "This manual describes the Northwind NW-AX3000 dual-band Wi-Fi 6 router supplied with Northwind Broadband "
            "plans. Keep it for reference.",
            "Package contents: the NW-AX3000 router, a 12 V power adapter, a 1.5 m Ethernet cable, and a quick start card "
            "printed with the default network name, Wi-Fi password and admin password.",
        ],
    ),
    (
        "1. Front panel lights",
        [
            "Power: solid green when the router is on; blinking green while it starts up or installs firmware.",
            "Internet: solid green when the router is connected to the internet; solid red when the WAN cable is "
            "connected but no internet connection is available; off when no cable is connected to the WAN port.",
            "Wi-Fi: solid blue when both bands are broadcasting; off when Wi-Fi is turned off with the Wi-Fi button.",
            "WPS: blinking blue while the router waits for a device to pair, for up to two minutes.",
        ],
    ),
    (
        "2. Logging in to the admin page",
        [
            "Connect a computer to the router by cable or Wi-Fi and open http://192.168.1.1 in a web browser. Sign in "
            "with the user name admin and the admin password printed on the label on the bottom of the router. Change "
            "the admin password at first sign-in under System > Administration.",
            "If the admin page does not open, check that the computer receives an address in the range 192.168.1.x, and "
            "try another browser.",
        ],
    ),
    (
        "3. Changing the Wi-Fi name and password",
        [
            "Open Wireless > Basic. Enter a new network name (SSID) and a password of at least 12 characters. Keep "
            "security set to WPA2/WPA3. Click Apply. Every device must then reconnect with the new password.",
        ],
    ),
    (
        "4. Factory reset",
        [
            "A factory reset erases all settings, including the Wi-Fi name and password and any port forwarding rules, "
            "and restores the values printed on the label.",
            "With the router switched on, press and hold the recessed Reset button on the back with a paper clip for "
            "10 seconds, until the Power light blinks. Release it and wait about three minutes until the Internet light "
            "is solid green again.",
            "A short press of less than five seconds only restarts the router and keeps your settings.",
        ],
    ),
    (
        "5. Port forwarding",
        [
            "Port forwarding lets a game console, security camera or server at home accept connections from the "
            "internet. Open Advanced > NAT > Port forwarding, click Add, choose the device, and enter the external "
            "port, internal port and protocol (TCP, UDP or both). Give the device a fixed address first under "
            "Network > DHCP reservation so the rule keeps working.",
            "Northwind Broadband uses carrier-grade NAT on some plans. If forwarded ports cannot be reached, ask "
            "support for a public IPv4 address, which is free on request.",
        ],
    ),
    (
        "6. Firmware updates",
        [
            "The router checks for new firmware every night between 2:00 and 5:00 and installs it automatically, "
            "restarting in less than five minutes. To check manually, open System > Firmware and click Check now. Do "
            "not switch the router off while the Power light blinks during an update.",
        ],
    ),
    (
        "7. Parental controls and guest network",
        [
            "Under Security > Parental controls you can create a profile for each person, assign their devices, block "
            "categories of websites, and pause internet access at set times, for example from 21:00 to 7:00 on school "
            "nights.",
            "The guest network (Wireless > Guest) gives visitors internet access without access to your own devices. "
            "Set an expiry of 1 day, 1 week or never.",
        ],
    ),
    (
        "8. Technical specifications",
        [
            "Wi-Fi 6 (802.11ax), 2.4 GHz up to 574 Mbit/s and 5 GHz up to 2402 Mbit/s. One 2.5 Gbit/s WAN port and four "
            "1 Gbit/s LAN ports. One USB 3.0 port for file sharing. Power: 12 V, 1.5 A. Operating temperature 0 to 40 C.",
            "Warranty: the router is rented equipment and is replaced free of charge while your service is active if it "
            "develops a fault.",
        ],
    ),
]

POLICIES = [
    (
        "Northwind Support Policies",
        0,
        [
            "This document describes how Northwind customer support works: opening hours, response times, what support "
            "covers, and how we handle complaints and your data.",
        ],
    ),
    (
        "Contact channels and opening hours",
        1,
        [
            "Phone support on 0800 555 0100 is open Monday to Saturday from 8:00 to 22:00, and Sunday from 10:00 to 18:00. "
            "Chat in the My Northwind app and on the website is staffed at the same hours; outside them a virtual "
            "assistant answers and creates a ticket. The outage line 0800 555 0199 is automated and open 24 hours.",
        ],
    ),
    ("Response times", 1, []),
    (
        "Service levels by priority",
        2,
        [
            "Priority 1 (total loss of service for a business customer): response within 1 hour, 24 hours a day.",
            "Priority 2 (total loss of service for a home customer): technician appointment within 2 working days.",
            "Priority 3 (degraded service, such as slow speed): response within 3 working days.",
            "Priority 4 (questions and changes): response within 5 working days.",
        ],
    ),
    (
        "What support covers",
        1,
        [
            "Support covers Northwind services and the equipment we supply: modem, router, mesh points, TV box and SIM "
            "cards. We also give best-effort help with connecting your own devices to our services, such as setting up "
            "e-mail or joining Wi-Fi.",
            "We cannot repair your own computers, phones or printers, remove viruses, or recover lost files. For those, "
            "we recommend a local repair shop.",
        ],
    ),
    (
        "Complaints",
        1,
        [
            "If you are unhappy with our service, tell the support agent that you want to make a complaint, or use the "
            "complaint form in your account. We acknowledge complaints within 2 working days and aim to resolve them "
            "within 4 weeks. If the complaint is not resolved after 8 weeks, you can refer it to the independent "
            "telecoms ombudsman free of charge.",
        ],
    ),
    (
        "Your data and privacy",
        1,
        [
            "Support agents see your account details only while they handle your request and never ask for your "
            "password. Calls are recorded for training and quality purposes and kept for 90 days. You can request a copy "
            "of your data or its deletion under Account > Privacy.",
        ],
    ),
    (
        "Identity checks",
        2,
        [
            "Before discussing an account, agents check your identity with your customer number and a one-time code sent "
            "to your registered mobile number or e-mail. Changes to recovery details need photo ID.",
        ],
    ),
]


def make_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    story = []
    for n, (heading, paragraphs) in enumerate(ROUTER_MANUAL):
        if n in (2, 4, 6, 8):  # several pages, so page numbers are worth keeping
            story.append(PageBreak())
        story.append(Paragraph(heading, styles["Title" if n == 0 else "Heading2"]))
        for text in paragraphs:
            story.append(Paragraph(text, styles["BodyText"]))
            story.append(Spacer(1, 6))
    doc = SimpleDocTemplate(
        str(path), pagesize=A4, title="NW-AX3000 Router User Manual", author="Northwind", invariant=1
    )
    doc.build(story)


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Northwind Support Policies"
    for heading, level, paragraphs in POLICIES:
        document.add_heading(heading, level=level)
        for text in paragraphs:
            document.add_paragraph(text)
    document.save(str(path))


if __name__ == "__main__":
    make_pdf(ROOT / "internet" / "nw-ax3000-router-manual.pdf")
    make_docx(ROOT / "support-policies.docx")
    print("written")
