"""Demo data for `flask seed-demo`: people, courses, Student-Teachers and enrollments drawn from the seeds.

Everything is looked up by its natural key (users by email, categories and courses by slug,
Student-Teachers by user and course, enrollments by student and course, certificates by user,
course and type) and created only when missing. A course's children (objectives, modules, ...)
are created with the course, so module ids stay stable. Rows that already exist are left as they
are: running the loader again adds nothing and never undoes what someone did while demoing.

Enrollments are bought as a visitor buys them, through checkout, the sandbox gateway's Pay button
and the webhook path's completion service, so each has its transaction and ledger rows and the
creators have royalties; the creators and Student-Teachers connect a sandbox payout account through
Connect onboarding. A person with an enrollment in the course, or with a payout account, is skipped.

The certification flywheel after the last module (recommendations, certificates, applications to
teach) goes through the certification services too, each step dated its own day in the past, so the
creator's queues and everyone's notifications hold what the product would have made.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from peerloop.accounts.models import (
    PrimaryRole,
    StripeAccountStatus,
    User,
    UserExpertise,
    UserInterest,
    UserQualification,
)
from peerloop.accounts.passwords import hash_password
from peerloop.catalog.models import (
    Badge,
    Category,
    Course,
    CourseInclude,
    CourseObjective,
    CoursePrerequisite,
    CourseTag,
    CourseTargetAudience,
    CourseTestimonial,
    Level,
    Module,
    PeerloopFeatures,
    PrerequisiteType,
)
from peerloop.certification import services as certification
from peerloop.certification.models import (
    Certificate,
    CertificateType,
    CertificationRequest,
    DecisionStatus,
    StudentTeacher,
    TeachApplication,
)
from peerloop.enrollment.models import Enrollment, EnrollmentStatus, ModuleProgress
from peerloop.enrollment.progress import all_modules_done
from peerloop.errors import Conflict, NotFound, RuleViolation
from peerloop.extensions import db
from peerloop.notifications.models import Notification
from peerloop.payments import sandbox, services
from peerloop.payments.models import CheckoutStatus
from peerloop.scheduling import requests as session_requests
from peerloop.scheduling import services as scheduling
from peerloop.scheduling.models import (
    AvailabilitySettings,
    NoShowBy,
    SessionKind,
    SessionRequest,
    SessionStatus,
    TutoringSession,
)
from peerloop.timezones import zone_for
from peerloop.video.models import Assessment

DEMO_PASSWORD = "peerloop-demo"

DEMO_LOGINS = [
    ("brian@example.com", "admin (Brian, runs the platform)"),
    ("gabriel@example.com", "creator of Intro to Claude Code (@gabriel)"),
    ("priya@example.com", "creator of Practical Machine Learning and NLP with Transformers (@priya)"),
    ("james@example.com", "creator of Backend APIs with Python and Docker & CI/CD (@james)"),
    ("elena@example.com", "creator of Data Analysis with pandas, has a draft course awaiting activation (@elena)"),
    ("marcus@example.com", "Marcus Chen, Student-Teacher certified for Intro to Claude Code"),
    ("aisha@example.com", "Aisha Patel, newer Student-Teacher for Intro to Claude Code"),
    ("diego@example.com", "Diego Hernandez, Student-Teacher for Practical Machine Learning"),
    ("sarah@example.com", "student enrolled in Intro to Claude Code"),
    ("tom@example.com", "student part-way through Practical Machine Learning"),
    ("nina@example.com", "student who finished Data Analysis with pandas"),
    ("ben@example.com", "student recommended by Aisha after his Certification Assessment, waiting for Gabriel"),
    ("chloe@example.com", "student certified in Intro to Claude Code, her application to teach waiting for Gabriel"),
    ("leo@example.com", "student with every module of Intro to Claude Code done: book the Certification Assessment"),
]

# (name, slug) in display order, as listed in seed 001.
CATEGORIES = [
    ("AI & Product Management", "ai-product-management"),
    ("Machine Learning", "machine-learning"),
    ("Computer Vision", "computer-vision"),
    ("NLP", "nlp"),
    ("Data Science", "data-science"),
    ("Business Analytics", "business-analytics"),
    ("Backend Development", "backend-development"),
    ("Cloud Computing", "cloud-computing"),
    ("Full-Stack Development", "full-stack-development"),
    ("DevOps", "devops"),
    ("System Design", "system-design"),
    ("AI & Robotics", "ai-robotics"),
    ("AI in Healthcare", "ai-healthcare"),
    ("AI Coding", "ai-coding"),
    ("AI & Prompt Engineering", "ai-prompt-engineering"),
]

# Scalar User fields plus "joined_days_ago" and the profile lists (qualifications, expertise, interests).
USERS = [
    {
        "email": "brian@example.com",
        "handle": "brian",
        "name": "Brian",
        "title": "Founder, PeerLoop",
        "role": PrimaryRole.admin,
        "is_admin": True,
        "timezone": "America/Los_Angeles",
        "joined_days_ago": 400,
    },
    {
        "email": "gabriel@example.com",
        "handle": "gabriel",
        "name": "Gabriel Rymberg",
        "title": "AI Engineer & Educator",
        "role": PrimaryRole.creator,
        "is_creator": True,
        "privacy_public": True,
        "timezone": "America/New_York",
        "bio_short": "I teach non-coders to build real software with AI tools, one live session at a time.",
        "bio": (
            "Gabriel has spent fifteen years building software for startups and large companies, and the last "
            "few teaching people with no programming background to ship working tools with AI assistants. "
            "He created Intro to Claude Code after watching friends go from 'I can't code' to running their "
            "own automations in an afternoon."
        ),
        "teaching_philosophy": (
            "You learn by building, not by watching. Every session ends with something you made yourself, "
            "and the best way to master a skill is to teach it to the next person."
        ),
        "website": "https://example.com/gabriel",
        "qualifications": [
            "15 years of professional software engineering experience.",
            "Has taught more than 300 beginners to build with AI coding assistants.",
            "Former engineering lead at two venture-backed startups.",
        ],
        "expertise": ["AI Coding", "AI Prompting", "Claude Code", "Automation"],
        "joined_days_ago": 380,
    },
    {
        "email": "priya@example.com",
        "handle": "priya",
        "name": "Dr. Priya Raman",
        "title": "Machine Learning Scientist",
        "role": PrimaryRole.creator,
        "is_creator": True,
        "privacy_public": True,
        "timezone": "America/Chicago",
        "bio_short": "ML scientist who turns research ideas into models that survive contact with production.",
        "bio": (
            "Priya holds a PhD in computer science and has built recommendation and language models for "
            "e-commerce and healthcare teams. She teaches machine learning the way it is practised: messy "
            "data first, models second, evaluation always."
        ),
        "teaching_philosophy": (
            "Intuition before equations. Once you can predict what a model will do, the maths explains why."
        ),
        "qualifications": [
            "PhD in Computer Science, focus on statistical machine learning.",
            "Eight years building production ML systems in retail and healthcare.",
            "Author of peer-reviewed papers on text classification and transfer learning.",
        ],
        "expertise": ["Machine Learning", "NLP", "PyTorch", "Model Evaluation"],
        "joined_days_ago": 300,
    },
    {
        "email": "james@example.com",
        "handle": "james",
        "name": "James Okafor",
        "title": "Staff Backend Engineer",
        "role": PrimaryRole.creator,
        "is_creator": True,
        "privacy_public": True,
        "timezone": "Europe/London",
        "bio_short": "Backend and platform engineer. I make APIs boring, deploys dull and pagers quiet.",
        "bio": (
            "James has designed APIs and deployment pipelines for payments and logistics companies for over a "
            "decade. He mentors junior engineers on writing services that are easy to test, ship and operate."
        ),
        "teaching_philosophy": "Small, working steps. We deploy something real in the first session.",
        "qualifications": [
            "12 years of backend and platform engineering experience.",
            "AWS Certified Solutions Architect - Professional.",
            "Has run the on-call rotation for services handling millions of requests a day.",
        ],
        "expertise": ["Backend Development", "DevOps", "Python", "Docker", "PostgreSQL"],
        "joined_days_ago": 260,
    },
    {
        "email": "elena@example.com",
        "handle": "elena",
        "name": "Elena Vasquez",
        "title": "Lead Data Analyst",
        "role": PrimaryRole.creator,
        "is_creator": True,
        "privacy_public": True,
        "timezone": "America/Denver",
        "bio_short": "Data analyst who helps teams answer business questions with Python and SQL.",
        "bio": (
            "Elena leads an analytics team at a subscription software company. Before that she was a "
            "financial analyst who taught herself Python to escape spreadsheet hell, and now teaches others "
            "to do the same."
        ),
        "teaching_philosophy": "Start from a real question and real data; tools are only worth what they answer.",
        "qualifications": [
            "Nine years in financial and product analytics.",
            "Built the self-serve analytics programme used by 200 colleagues.",
        ],
        "expertise": ["Data Science", "pandas", "SQL", "Business Analytics"],
        "joined_days_ago": 220,
    },
    {
        "email": "marcus@example.com",
        "handle": "marcus",
        "name": "Marcus Chen",
        "title": "Operations Manager turned AI builder",
        "role": PrimaryRole.student_teacher,
        "is_student_teacher": True,
        "privacy_public": True,
        "timezone": "America/Los_Angeles",
        "bio_short": "Certified Student-Teacher for Intro to Claude Code. I went from zero code to shipping tools.",
        "bio": (
            "I run operations for a small logistics company. Intro to Claude Code showed me I could automate "
            "half my week, and now I help other beginners get there too."
        ),
        "expertise": ["Claude Code", "Automation"],
        "interests": ["ai coding", "automation", "no-code"],
        "joined_days_ago": 130,
    },
    {
        "email": "aisha@example.com",
        "handle": "aisha",
        "name": "Aisha Patel",
        "title": "Marketing Analyst",
        "role": PrimaryRole.student_teacher,
        "is_student_teacher": True,
        "privacy_public": True,
        "timezone": "America/Toronto",
        "bio_short": "Marketer who codes with AI. Newly certified to teach Intro to Claude Code.",
        "interests": ["ai coding", "prompt engineering", "marketing automation"],
        "joined_days_ago": 80,
    },
    {
        "email": "diego@example.com",
        "handle": "diego",
        "name": "Diego Hernandez",
        "title": "Junior Data Scientist",
        "role": PrimaryRole.student_teacher,
        "is_student_teacher": True,
        "timezone": "America/Mexico_City",
        "bio_short": "Data scientist and Student-Teacher for Practical Machine Learning.",
        "interests": ["machine learning", "nlp", "python"],
        "joined_days_ago": 170,
    },
    {
        "email": "sarah@example.com",
        "handle": "sarah",
        "name": "Sarah Johnson",
        "role": PrimaryRole.student,
        "timezone": "America/New_York",
        "interests": ["ai coding", "web development", "automation"],
        "joined_days_ago": 12,
    },
    {
        "email": "tom@example.com",
        "handle": "tom",
        "name": "Tom Becker",
        "role": PrimaryRole.student,
        "timezone": "Europe/Berlin",
        "interests": ["machine learning", "data science"],
        "joined_days_ago": 25,
    },
    {
        "email": "nina@example.com",
        "handle": "nina",
        "name": "Nina Kowalski",
        "role": PrimaryRole.student,
        "timezone": "Europe/Warsaw",
        "interests": ["data science", "backend development", "sql"],
        "joined_days_ago": 65,
    },
    # The certification flywheel in Intro to Claude Code (see CERTIFICATION below).
    {
        "email": "ben@example.com",
        "handle": "ben",
        "name": "Ben Carter",
        "role": PrimaryRole.student,
        "timezone": "America/Chicago",
        "interests": ["ai coding", "automation", "small business"],
        "joined_days_ago": 50,
    },
    {
        "email": "chloe@example.com",
        "handle": "chloe",
        "name": "Chloe Dubois",
        "role": PrimaryRole.student,
        "timezone": "Europe/Paris",
        "interests": ["ai coding", "teaching", "web development"],
        "joined_days_ago": 70,
    },
    {
        "email": "leo@example.com",
        "handle": "leo",
        "name": "Leo Martins",
        "role": PrimaryRole.student,
        "timezone": "America/Sao_Paulo",
        "interests": ["ai coding", "automation"],
        "joined_days_ago": 35,
    },
]

STANDARD_INCLUDES = [
    "Full course access",
    "1-on-1 peer teaching sessions",
    "Certificate on completion",
    "Lifetime access to materials",
    "Discord community access",
]


def _module(session, title, duration, description, topics, exercise=None, objectives=None) -> dict:
    """One curriculum module; the lists are stored as "; "-separated text."""
    return {
        "session_number": session,
        "title": title,
        "duration": duration,
        "description": description,
        "topics_covered": "; ".join(topics),
        "hands_on_exercise": exercise,
        "learning_objectives": "; ".join(objectives) if objectives else None,
    }


# Course fields plus "creator" (email), "category" (slug), "age_days" and the child lists.
# No figure is invented: student counts come from the enrollments below (see _count_from_rows), and
# no course has a rating, as no reviews exist yet (they arrive with session assessments). Testimonials
# are signed by people whose enrollment is in ENROLLMENTS or by pilot students, who have none.
# module_count is the number of modules given; currency, format and certificate_name are the same for all.
COURSES = [
    {
        "slug": "intro-to-claude-code",
        "title": "Intro to Claude Code",
        "creator": "gabriel@example.com",
        "category": "ai-coding",
        "level": Level.beginner,
        "tagline": "Master AI-powered coding from your terminal: build real projects in two live sessions.",
        "description": (
            "Claude Code lets you build software by describing what you want in plain English. In two live "
            "1-on-1 sessions with a certified Student-Teacher you will install it, learn how to steer it, and "
            "build and ship a small web app and an automation of your own. Designed for people who have never "
            "written code, and for vibe coders who want to work faster and with more confidence."
        ),
        "duration": "2 weeks",
        "duration_weeks": 2,
        "total_duration": "2.5 hours",
        "session_count": 2,
        "lesson_count": 14,
        "price_cents": 39900,
        "badge": Badge.bestseller,
        "age_days": 200,
        "objectives": [
            "Install and configure Claude Code on Windows or Mac",
            "Describe what you want clearly enough for Claude to build it",
            "Read, review and approve the changes Claude proposes",
            "Build and publish a simple web app from scratch",
            "Automate a repetitive task from your own work",
            "Debug errors by working through them with Claude",
        ],
        "includes": [
            "Full course access",
            "2 live 1-on-1 sessions with a certified Student-Teacher",
            "Certificate on completion",
            "Lifetime access to materials",
            "Access to prompt library templates",
            "Discord community access",
        ],
        "prerequisites": {
            PrerequisiteType.required: ["Computer with terminal (Windows or Mac)", "Claude account (Pro or Max plan)"],
            PrerequisiteType.nice_to_have: ["Basic computer navigation skills"],
            PrerequisiteType.not_required: ["No coding experience needed", "No command-line knowledge required"],
        },
        "audience": [
            "Non-coders wanting to use AI for development",
            "Vibe coders looking to enhance productivity",
            "Professionals wanting to automate tasks with AI",
            "Beginners curious about AI coding tools",
        ],
        "tags": ["claude", "ai coding", "terminal", "automation"],
        "testimonials": [
            (
                "I went from knowing nothing about coding to building my first web app in just two sessions.",
                "Aisha",
                "Course Graduate",
            ),
            (
                "The hands-on approach is perfect. You're not just watching - you're building real things "
                "from day one.",
                "Marcus",
                "Now a Student-Teacher",
            ),
        ],
        "modules": [
            _module(
                1,
                "Welcome & Setup",
                "20 min",
                "Get Claude Code installed and running, and find your way around the terminal.",
                ["Opening a terminal", "Installing Claude Code", "Signing in with your Claude account"],
                "Install Claude Code and ask it to explain the folder you are in.",
                ["Install Claude Code", "Start and exit a Claude Code session"],
            ),
            _module(
                1,
                "Talking to Claude Code",
                "20 min",
                "How to ask for what you want, read what Claude proposes, and approve or reject changes.",
                ["Writing clear requests", "Reading proposed changes", "Permissions and approvals"],
                "Ask Claude to write a short text file, then change it twice with follow-up requests.",
                ["Phrase a request Claude can act on", "Review a change before accepting it"],
            ),
            _module(
                1,
                "Projects and Files",
                "20 min",
                "Organise work in project folders and give Claude the context it needs with CLAUDE.md.",
                ["Project folders", "CLAUDE.md project memory", "Creating and editing files"],
                "Create a project folder and a CLAUDE.md describing your first app.",
                ["Set up a project Claude understands"],
            ),
            _module(
                1,
                "Your First Web Page",
                "25 min",
                "Build a personal web page from a description, then refine its layout and style.",
                ["HTML and CSS basics through Claude", "Previewing in the browser", "Iterating on design"],
                "Build a one-page site about yourself and open it in your browser.",
                ["Build a working web page from a plain-English description"],
            ),
            _module(
                2,
                "Debugging with Claude",
                "20 min",
                "When things break: reading error messages, sharing them with Claude and fixing problems step by step.",
                ["Reading error messages", "Asking Claude to diagnose", "Undoing changes safely"],
                "Fix three deliberately broken snippets with Claude's help.",
                ["Turn an error message into a fix"],
            ),
            _module(
                2,
                "Automating Everyday Tasks",
                "25 min",
                "Use Claude Code to write small scripts that rename files, clean spreadsheets and send reports.",
                ["Scripts for repetitive work", "Working with CSV files", "Running scripts on a schedule"],
                "Automate one repetitive task from your own job.",
                ["Identify tasks worth automating", "Write and run a script with Claude"],
            ),
            _module(
                2,
                "Shipping and Next Steps",
                "20 min",
                "Save your work with git, publish your web app, and plan what to build next.",
                ["Git basics with Claude", "Publishing a static site", "Becoming a Student-Teacher"],
                "Publish your web page so friends can visit it.",
                ["Save and publish a project", "Plan your next build"],
            ),
        ],
    },
    {
        "slug": "prompt-engineering-for-builders",
        "title": "Prompt Engineering for Builders",
        "creator": "gabriel@example.com",
        "category": "ai-prompt-engineering",
        "level": Level.intermediate,
        "tagline": "Write prompts that work the first time and keep working: patterns, evaluation, prompt libraries.",
        "description": (
            "A practical course on getting reliable results from large language models. You will learn the "
            "prompt patterns professionals use, how to test prompts against real examples, and how to build "
            "a reusable prompt library for your team."
        ),
        "duration": "4 weeks",
        "duration_weeks": 4,
        "total_duration": "6 hours",
        "session_count": 4,
        "lesson_count": 16,
        "price_cents": 29900,
        "badge": Badge.new,
        "age_days": 30,
        "objectives": [
            "Structure prompts with roles, context, examples and constraints",
            "Get structured output such as JSON reliably",
            "Evaluate prompts against a set of test cases",
            "Build and share a team prompt library",
        ],
        "includes": [*STANDARD_INCLUDES, "Access to prompt library templates"],
        "prerequisites": {
            PrerequisiteType.required: ["Regular use of ChatGPT, Claude or a similar assistant"],
            PrerequisiteType.nice_to_have: ["Some experience with spreadsheets or scripting"],
            PrerequisiteType.not_required: ["No programming experience required"],
        },
        "audience": [
            "Product managers and analysts who use AI daily",
            "Builders shipping features on top of LLMs",
            "Teams standardising how they prompt",
        ],
        "tags": ["prompt engineering", "llm", "ai", "evaluation"],
        "testimonials": [
            (
                "Our support team's AI replies went from hit-and-miss to consistently good.",
                "Priscilla",
                "Team Lead, pilot student",
            ),
        ],
        "modules": [
            _module(
                1,
                "Anatomy of a Prompt",
                "45 min",
                "Roles, context, instructions and examples.",
                ["Role prompting", "Few-shot examples", "Constraints"],
                "Rewrite three weak prompts.",
            ),
            _module(
                2,
                "Structured Output",
                "45 min",
                "Getting JSON, tables and lists you can use in code.",
                ["JSON output", "Schemas", "Handling failures"],
                "Extract data from ten emails into JSON.",
            ),
            _module(
                3,
                "Evaluating Prompts",
                "45 min",
                "Test sets, scoring and comparing prompt versions.",
                ["Test cases", "Rubrics", "A/B comparison"],
                "Score two prompt versions on 20 examples.",
            ),
            _module(
                4,
                "Your Prompt Library",
                "45 min",
                "Organise, version and share prompts with a team.",
                ["Templates", "Versioning", "Sharing"],
                "Publish five prompts to a shared library.",
            ),
        ],
    },
    {
        "slug": "practical-machine-learning",
        "title": "Practical Machine Learning",
        "creator": "priya@example.com",
        "category": "machine-learning",
        "level": Level.intermediate,
        "tagline": "From raw data to a deployed model: the ML workflow real teams use, taught 1-on-1.",
        "description": (
            "Learn machine learning by doing it end to end. You will clean a real dataset, train and compare "
            "models with scikit-learn, evaluate them honestly, and serve the best one behind a small API."
        ),
        "duration": "6 weeks",
        "duration_weeks": 6,
        "total_duration": "9 hours",
        "session_count": 6,
        "lesson_count": 24,
        "price_cents": 45000,
        "badge": Badge.popular,
        "age_days": 280,
        "objectives": [
            "Frame a business problem as a machine learning task",
            "Prepare features and avoid data leakage",
            "Train, tune and compare models with scikit-learn",
            "Evaluate models with the right metrics",
            "Serve a trained model behind an API",
        ],
        "includes": [*STANDARD_INCLUDES, "Jupyter notebooks for every module"],
        "prerequisites": {
            PrerequisiteType.required: ["Comfortable writing basic Python", "Laptop with Python 3.10 or later"],
            PrerequisiteType.nice_to_have: ["High-school statistics", "Some pandas experience"],
            PrerequisiteType.not_required: ["No prior machine learning knowledge needed"],
        },
        "audience": [
            "Developers moving into machine learning",
            "Analysts who want to build predictive models",
            "Students preparing for data science roles",
        ],
        "tags": ["machine learning", "python", "scikit-learn", "model evaluation"],
        "testimonials": [
            ("Priya's feedback on my project was worth the price alone.", "Diego", "Now a Student-Teacher"),
            (
                "I finally understand why my models overfit, and how to stop it.",
                "Hannah",
                "Software Engineer, pilot student",
            ),
        ],
        "modules": [
            _module(
                1,
                "Framing ML Problems",
                "90 min",
                "Turning a business question into a prediction task.",
                ["Supervised vs unsupervised", "Targets and features", "Baselines"],
            ),
            _module(
                2,
                "Data Preparation",
                "90 min",
                "Cleaning data and engineering features without leakage.",
                ["Missing values", "Encoding", "Train/test splits"],
                "Prepare the housing dataset.",
            ),
            _module(
                3,
                "Training Models",
                "90 min",
                "Linear models, trees and ensembles with scikit-learn.",
                ["Pipelines", "Random forests", "Gradient boosting"],
                "Train three models and compare them.",
            ),
            _module(
                4,
                "Evaluation",
                "90 min",
                "Choosing metrics and validating honestly.",
                ["Cross-validation", "Precision and recall", "Calibration"],
            ),
            _module(
                5,
                "Tuning and Interpretation",
                "90 min",
                "Hyperparameter search and explaining predictions.",
                ["Grid and random search", "Feature importance", "SHAP values"],
            ),
            _module(
                6,
                "Serving a Model",
                "90 min",
                "Packaging a model and serving it from a small API.",
                ["Model serialisation", "FastAPI basics", "Monitoring"],
                "Deploy your model as an API.",
            ),
        ],
    },
    {
        "slug": "nlp-with-transformers",
        "title": "NLP with Transformers",
        "creator": "priya@example.com",
        "category": "nlp",
        "level": Level.advanced,
        "tagline": "Fine-tune and deploy transformer models for classification, extraction and search.",
        "description": (
            "An advanced course for practitioners who want to go beyond API calls. You will fine-tune "
            "pretrained transformers with Hugging Face, build a semantic search system with embeddings, "
            "and learn to evaluate and ship NLP models responsibly."
        ),
        "duration": "6 weeks",
        "duration_weeks": 6,
        "total_duration": "9 hours",
        "session_count": 6,
        "lesson_count": 20,
        "price_cents": 52500,
        "badge": None,
        "age_days": 150,
        "objectives": [
            "Explain how attention and transformers work",
            "Fine-tune a pretrained model for text classification",
            "Build semantic search with sentence embeddings",
            "Evaluate NLP models for accuracy and bias",
        ],
        "includes": STANDARD_INCLUDES,
        "prerequisites": {
            PrerequisiteType.required: ["Solid Python", "Working knowledge of machine learning basics"],
            PrerequisiteType.nice_to_have: ["Experience with PyTorch", "Access to a GPU (Colab is fine)"],
            PrerequisiteType.not_required: ["No research background needed"],
        },
        "audience": [
            "ML engineers adding NLP to their toolkit",
            "Data scientists working with text data",
        ],
        "tags": ["nlp", "transformers", "hugging face", "embeddings"],
        "testimonials": [
            ("I shipped a ticket classifier at work the week after finishing.", "Omar", "ML Engineer, pilot student"),
        ],
        "modules": [
            _module(
                1,
                "Attention and Transformers",
                "90 min",
                "How transformers read text.",
                ["Tokenisation", "Self-attention", "Pretraining"],
            ),
            _module(
                2,
                "Fine-tuning for Classification",
                "90 min",
                "Adapting a pretrained model to your labels.",
                ["Datasets", "Trainer API", "Learning rates"],
                "Fine-tune a sentiment classifier.",
            ),
            _module(
                3,
                "Information Extraction",
                "90 min",
                "Named entities and structured extraction.",
                ["Token classification", "Span labelling"],
            ),
            _module(
                4,
                "Embeddings and Search",
                "90 min",
                "Semantic search with sentence embeddings.",
                ["Sentence transformers", "Vector indexes", "Re-ranking"],
                "Build search over course notes.",
            ),
            _module(
                5,
                "Evaluation and Bias",
                "90 min",
                "Measuring quality and fairness in NLP models.",
                ["Error analysis", "Bias probes"],
            ),
        ],
    },
    {
        "slug": "backend-apis-with-python",
        "title": "Backend APIs with Python",
        "creator": "james@example.com",
        "category": "backend-development",
        "level": Level.intermediate,
        "tagline": "Design, build, test and deploy a production-ready REST API with Flask and PostgreSQL.",
        "description": (
            "Build a real backend service from an empty folder to a deployed API. Covers API design, "
            "databases and migrations, authentication, automated tests and deployment, with a working "
            "engineer reviewing your code in every session."
        ),
        "duration": "4 weeks",
        "duration_weeks": 4,
        "total_duration": "6 hours",
        "session_count": 4,
        "lesson_count": 18,
        "price_cents": 39900,
        "badge": None,
        "age_days": 180,
        "objectives": [
            "Design clean, consistent REST endpoints",
            "Model data with SQLAlchemy and manage migrations",
            "Add authentication and input validation",
            "Write automated tests with pytest",
            "Deploy the API to a cloud platform",
        ],
        "includes": [*STANDARD_INCLUDES, "Starter repository and code reviews"],
        "prerequisites": {
            PrerequisiteType.required: ["Comfortable with Python functions and classes", "Git installed"],
            PrerequisiteType.nice_to_have: ["Basic SQL"],
            PrerequisiteType.not_required: ["No web framework experience needed"],
        },
        "audience": [
            "Frontend developers going full-stack",
            "Self-taught programmers preparing for backend roles",
            "Bootcamp graduates who want production habits",
        ],
        "tags": ["python", "flask", "rest api", "postgresql"],
        "testimonials": [
            ("James's code reviews taught me more than a year of tutorials.", "Samuel", "Developer, pilot student"),
        ],
        "modules": [
            _module(
                1,
                "API Design",
                "90 min",
                "Resources, status codes and consistent error bodies.",
                ["REST conventions", "Versioning", "Error formats"],
                "Design the API for a booking app.",
            ),
            _module(
                2,
                "Data and Migrations",
                "90 min",
                "SQLAlchemy models and Alembic migrations.",
                ["Models", "Relationships", "Migrations"],
                "Model bookings and run your first migration.",
            ),
            _module(
                3,
                "Auth and Validation",
                "90 min",
                "Tokens, permissions and validating input.",
                ["Token auth", "Access checks", "Validation"],
            ),
            _module(
                4,
                "Testing and Deployment",
                "90 min",
                "pytest, CI and deploying to a PaaS.",
                ["Fixtures", "Test databases", "Procfiles"],
                "Deploy your API with a passing test suite.",
            ),
        ],
    },
    {
        "slug": "docker-and-ci-cd",
        "title": "Docker & CI/CD Pipelines",
        "creator": "james@example.com",
        "category": "devops",
        "level": Level.beginner,
        "tagline": "Containerise an app and ship it automatically on every push, with confidence.",
        "description": (
            "A hands-on introduction to modern delivery. You will package an application with Docker, run it "
            "locally with Compose, and build a CI/CD pipeline that tests and deploys it on every push."
        ),
        "duration": "3 weeks",
        "duration_weeks": 3,
        "total_duration": "4.5 hours",
        "session_count": 3,
        "lesson_count": 12,
        "price_cents": 34900,
        "badge": Badge.featured,
        "age_days": 120,
        "objectives": [
            "Write Dockerfiles for small, secure images",
            "Run multi-service apps with Docker Compose",
            "Build a CI pipeline that runs tests on every push",
            "Deploy automatically when the main branch changes",
        ],
        "includes": STANDARD_INCLUDES,
        "prerequisites": {
            PrerequisiteType.required: ["A GitHub account", "Computer that can run Docker Desktop"],
            PrerequisiteType.nice_to_have: ["Some command-line experience"],
            PrerequisiteType.not_required: ["No prior DevOps experience"],
        },
        "audience": ["Developers tired of 'works on my machine'", "Career switchers heading into DevOps"],
        "tags": ["docker", "ci/cd", "github actions", "devops"],
        "testimonials": [
            ("Our team's deploys went from a monthly ordeal to a non-event.", "Lukas", "Developer, pilot student"),
        ],
        "modules": [
            _module(
                1,
                "Containers 101",
                "60 min",
                "Images, containers and your first Dockerfile.",
                ["Images vs containers", "Dockerfile basics"],
                "Containerise a small web app.",
            ),
            _module(
                1,
                "Docker Compose",
                "60 min",
                "Running an app and its database together.",
                ["Services", "Volumes", "Networks"],
            ),
            _module(
                2,
                "Continuous Integration",
                "60 min",
                "Running tests automatically with GitHub Actions.",
                ["Workflows", "Caching", "Matrix builds"],
                "Add a CI workflow to your repository.",
            ),
            _module(
                3,
                "Continuous Delivery",
                "60 min",
                "Deploying on merge, secrets and rollbacks.",
                ["Deploy jobs", "Secrets", "Rollbacks"],
                "Deploy automatically on every merge to main.",
            ),
        ],
    },
    {
        "slug": "data-analysis-with-pandas",
        "title": "Data Analysis with pandas",
        "creator": "elena@example.com",
        "category": "data-science",
        "level": Level.beginner,
        "tagline": "Answer real business questions with Python and pandas instead of fragile spreadsheets.",
        "description": (
            "Go from spreadsheet user to confident analyst. Load, clean, reshape and visualise data with "
            "pandas, and present your findings in a clear notebook report."
        ),
        "duration": "4 weeks",
        "duration_weeks": 4,
        "total_duration": "6 hours",
        "session_count": 4,
        "lesson_count": 16,
        "price_cents": 34900,
        "badge": Badge.popular,
        "age_days": 210,
        "objectives": [
            "Load data from CSV, Excel and SQL into pandas",
            "Clean messy real-world data",
            "Group, join and reshape data to answer questions",
            "Visualise results and share a notebook report",
        ],
        "includes": [*STANDARD_INCLUDES, "Real-world practice datasets"],
        "prerequisites": {
            PrerequisiteType.required: ["Laptop with Python or a free Google Colab account"],
            PrerequisiteType.nice_to_have: ["Spreadsheet experience"],
            PrerequisiteType.not_required: ["No programming experience needed"],
        },
        "audience": [
            "Analysts outgrowing spreadsheets",
            "Business professionals who work with data",
            "Beginners starting a path into data science",
        ],
        "tags": ["pandas", "python", "data analysis", "visualisation"],
        "testimonials": [
            ("My weekly report now takes five minutes instead of a whole afternoon.", "Nina", "Course Graduate"),
            ("Elena explains things in a way that just clicks.", "Rahul", "Financial Analyst, pilot student"),
        ],
        "modules": [
            _module(
                1,
                "Getting Started with pandas",
                "90 min",
                "DataFrames, Series and loading data.",
                ["Notebooks", "Reading CSV and Excel", "Selecting data"],
                "Load and explore a sales dataset.",
            ),
            _module(
                2,
                "Cleaning Data",
                "90 min",
                "Missing values, types and duplicates.",
                ["Missing data", "Type conversion", "String cleanup"],
                "Clean a messy customer list.",
            ),
            _module(
                3,
                "Grouping and Joining",
                "90 min",
                "Aggregations, merges and pivot tables.",
                ["groupby", "merge", "pivot_table"],
                "Find the top products by region.",
            ),
            _module(
                4,
                "Visualising and Reporting",
                "90 min",
                "Charts and notebook reports that persuade.",
                ["matplotlib", "Chart choice", "Storytelling"],
                "Present a one-page analysis.",
            ),
        ],
    },
    {
        # A draft: waits in Brian's activation queue.
        "slug": "sql-for-business-analysts",
        "title": "SQL for Business Analysts",
        "creator": "elena@example.com",
        "category": "business-analytics",
        "level": Level.beginner,
        "is_active": False,
        "tagline": "Query your company's data yourself: SQL from first SELECT to window functions.",
        "description": (
            "Stop waiting on the data team. Learn to write SQL queries that answer everyday business "
            "questions, from simple filters to joins, aggregations and window functions."
        ),
        "duration": "3 weeks",
        "duration_weeks": 3,
        "total_duration": "4.5 hours",
        "session_count": 3,
        "lesson_count": 12,
        "price_cents": 24900,
        "badge": None,
        "age_days": 3,
        "objectives": [
            "Write SELECT queries with filters and sorting",
            "Join tables to combine data",
            "Summarise data with GROUP BY",
            "Use window functions for rankings and running totals",
        ],
        "includes": STANDARD_INCLUDES,
        "prerequisites": {
            PrerequisiteType.required: ["A laptop with a web browser"],
            PrerequisiteType.not_required: ["No programming or database experience needed"],
        },
        "audience": ["Business analysts and managers who depend on data", "Spreadsheet power users"],
        "tags": ["sql", "analytics", "databases"],
        "testimonials": [
            ("The pilot session made joins finally make sense.", "Grace", "Pilot Student"),
        ],
        "modules": [
            _module(1, "First Queries", "60 min", "SELECT, WHERE and ORDER BY.", ["Tables", "Filtering", "Sorting"]),
            _module(1, "Aggregations", "60 min", "COUNT, SUM and GROUP BY.", ["Aggregate functions", "HAVING"]),
            _module(2, "Joins", "60 min", "Combining tables.", ["Inner joins", "Left joins", "Keys"]),
            _module(3, "Window Functions", "60 min", "Rankings and running totals.", ["OVER", "PARTITION BY"]),
        ],
    },
]

# Who may teach what. Days are counted back from `now`.
STUDENT_TEACHERS = [
    {
        "user": "marcus@example.com",
        "course": "intro-to-claude-code",
        "certified_days_ago": 60,
        "recommended_by": "gabriel@example.com",
        "mastery_days_ago": 72,
    },
    {
        "user": "aisha@example.com",
        "course": "intro-to-claude-code",
        "certified_days_ago": 30,
        "recommended_by": "marcus@example.com",
        "mastery_days_ago": 42,
    },
    {
        "user": "diego@example.com",
        "course": "practical-machine-learning",
        "certified_days_ago": 90,
        "recommended_by": "priya@example.com",
        "mastery_days_ago": 105,
    },
]

# "teacher" is the S-T (None: taught by the creator); "done_days_ago" marks modules complete, in order.
# Completed enrollments have every module complete.
ENROLLMENTS = [
    {
        "student": "sarah@example.com",
        "course": "intro-to-claude-code",
        "teacher": "marcus@example.com",
        "status": EnrollmentStatus.in_progress,
        "enrolled_days_ago": 10,
        "done_days_ago": [8, 8, 7],
    },
    {
        "student": "marcus@example.com",
        "course": "intro-to-claude-code",
        "teacher": None,
        "status": EnrollmentStatus.completed,
        "enrolled_days_ago": 120,
        "completed_days_ago": 75,
    },
    {
        "student": "aisha@example.com",
        "course": "intro-to-claude-code",
        "teacher": "marcus@example.com",
        "status": EnrollmentStatus.completed,
        "enrolled_days_ago": 70,
        "completed_days_ago": 45,
    },
    {
        "student": "diego@example.com",
        "course": "practical-machine-learning",
        "teacher": None,
        "status": EnrollmentStatus.completed,
        "enrolled_days_ago": 160,
        "completed_days_ago": 110,
    },
    {
        "student": "tom@example.com",
        "course": "practical-machine-learning",
        "teacher": "diego@example.com",
        "status": EnrollmentStatus.in_progress,
        "enrolled_days_ago": 20,
        "done_days_ago": [15, 9],
    },
    {
        "student": "nina@example.com",
        "course": "data-analysis-with-pandas",
        "teacher": None,
        "status": EnrollmentStatus.completed,
        "enrolled_days_ago": 60,
        "completed_days_ago": 35,
    },
    {
        "student": "nina@example.com",
        "course": "backend-apis-with-python",
        "teacher": None,
        "status": EnrollmentStatus.enrolled,
        "enrolled_days_ago": 3,
    },
    # Every module of Intro to Claude Code (seven) done: Ben and Chloe are further along the
    # certification flywheel (CERTIFICATION), Leo has yet to book his Certification Assessment.
    {
        "student": "ben@example.com",
        "course": "intro-to-claude-code",
        "teacher": "aisha@example.com",
        "status": EnrollmentStatus.in_progress,
        "enrolled_days_ago": 45,
        "done_days_ago": [40, 38, 36, 30, 27, 24, 19],
    },
    {
        "student": "chloe@example.com",
        "course": "intro-to-claude-code",
        "teacher": "marcus@example.com",
        "status": EnrollmentStatus.in_progress,  # completed when Gabriel certifies her
        "enrolled_days_ago": 60,
        "done_days_ago": [55, 52, 49, 45, 39, 33, 28],
    },
    {
        "student": "leo@example.com",
        "course": "intro-to-claude-code",
        "teacher": "aisha@example.com",
        "status": EnrollmentStatus.in_progress,
        "enrolled_days_ago": 30,
        "done_days_ago": [26, 24, 21, 17, 12, 8, 5],
    },
]

_USER_CHILDREN = ("qualifications", "expertise", "interests", "joined_days_ago")
_COURSE_CHILDREN = (
    "creator",
    "category",
    "age_days",
    "objectives",
    "includes",
    "prerequisites",
    "audience",
    "tags",
    "testimonials",
    "modules",
)


def _category(name: str, slug: str, order: int) -> Category:
    category = db.session.scalar(sa.select(Category).where(Category.slug == slug))
    if category is None:
        category = Category(name=name, slug=slug, display_order=order)
        db.session.add(category)
    return category


def _user(data: dict, *, password_hash: str, now: datetime) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == data["email"]))
    if user is not None:
        return user
    fields = {k: v for k, v in data.items() if k not in _USER_CHILDREN}
    user = User(
        **fields,
        password_hash=password_hash,
        email_verified=True,
        created_at=now - timedelta(days=data["joined_days_ago"]),
        qualifications=[
            UserQualification(sentence=s, display_order=i) for i, s in enumerate(data.get("qualifications", []))
        ],
        expertise=[UserExpertise(tag=t) for t in data.get("expertise", [])],
        interests=[UserInterest(tag=t) for t in data.get("interests", [])],
    )
    db.session.add(user)
    return user


def _course(data: dict, *, creator: User, category: Category, now: datetime) -> Course:
    course = db.session.scalar(sa.select(Course).where(Course.slug == data["slug"]))
    if course is not None:
        return course
    created_at = now - timedelta(days=data["age_days"])
    fields = {k: v for k, v in data.items() if k not in _COURSE_CHILDREN}
    fields.setdefault("is_active", True)
    course = Course(
        **fields,
        creator=creator,
        category=category,
        module_count=len(data["modules"]),
        format="Live 1-on-1 sessions",
        currency="USD",
        certificate_name="Certificate of Completion",
        thumbnail_url=None,
        is_retired=False,
        created_at=created_at,
        objectives=[CourseObjective(objective=o, display_order=i) for i, o in enumerate(data["objectives"])],
        includes=[CourseInclude(item=item, display_order=i) for i, item in enumerate(data["includes"])],
        prerequisites=[  # numbered across types, so the order also groups them
            CoursePrerequisite(type=kind, content=content, display_order=i)
            for i, (kind, content) in enumerate(
                (kind, content) for kind, contents in data["prerequisites"].items() for content in contents
            )
        ],
        target_audience=[CourseTargetAudience(description=d, display_order=i) for i, d in enumerate(data["audience"])],
        tags=[CourseTag(tag=t) for t in data["tags"]],
        testimonials=[
            CourseTestimonial(
                quote=quote,
                student_name=name,
                student_role=role,
                is_featured=True,
                created_at=created_at + timedelta(days=30 + 7 * i),
            )
            for i, (quote, name, role) in enumerate(data["testimonials"])
        ],
        modules=[Module(**m, module_order=i + 1) for i, m in enumerate(data["modules"])],
        features=PeerloopFeatures(teacher_commission=70),
    )
    db.session.add(course)
    return course


def _student_teacher(data: dict, *, user: User, course: Course, recommender: User, now: datetime) -> StudentTeacher:
    st = db.session.scalar(
        sa.select(StudentTeacher).where(StudentTeacher.user_id == user.id, StudentTeacher.course_id == course.id)
    )
    if st is None:
        certified_at = now - timedelta(days=data["certified_days_ago"])
        st = StudentTeacher(
            user_id=user.id,
            course_id=course.id,
            certified_date=certified_at.date(),
            students_taught=0,  # counted from the enrollments by _count_from_rows
            is_active=True,
            approved_by=course.creator_id,
            created_at=certified_at,
        )
        db.session.add(st)
    # Certified for mastery first (recommended by whoever taught them), then approved to teach.
    _certificate(user, course, CertificateType.mastery, now - timedelta(days=data["mastery_days_ago"]), recommender)
    _certificate(user, course, CertificateType.teaching, now - timedelta(days=data["certified_days_ago"]), recommender)
    return st


def _certificate(user: User, course: Course, kind: CertificateType, issued_at: datetime, recommender: User) -> None:
    exists = db.session.scalar(
        sa.select(Certificate.id).where(
            Certificate.user_id == user.id, Certificate.course_id == course.id, Certificate.type == kind
        )
    )
    if exists is None:
        db.session.add(
            Certificate(
                user_id=user.id,
                course_id=course.id,
                type=kind,
                issued_at=issued_at,
                issued_by=course.creator_id,
                recommended_by=recommender.id,
            )
        )


def _purchase(student: User, course: Course, teacher: User | None, *, at: datetime) -> Enrollment:
    """Buy ``course`` for ``student`` as a visitor does, at ``at``: a checkout, then the sandbox's Pay.

    The signed ``checkout.session.completed`` goes through the webhook path (processed at once, at
    ``at``), and the completion service writes the enrollment, the transaction, the ledger rows, the
    instructor follower, the receipt and the bell, all dated ``at``.
    """
    checkout = services.start_checkout(student, course.id, student_teacher_id=teacher.id if teacher else None, now=at)
    sandbox.pay(checkout.gateway_session_id, now=at)
    db.session.refresh(checkout)
    if checkout.status != CheckoutStatus.completed or checkout.enrollment is None:
        raise RuntimeError(f"the demo purchase of {course.slug} by {student.email} did not complete")
    return checkout.enrollment


def _enrollment(data: dict, *, student: User, course: Course, teacher: User | None, now: datetime) -> Enrollment | None:
    enrollment = db.session.scalars(
        sa.select(Enrollment)
        .where(Enrollment.student_id == student.id, Enrollment.course_id == course.id)
        .order_by(Enrollment.enrolled_at.desc())
    ).first()
    if enrollment is not None:
        return enrollment
    enrolled_at = now - timedelta(days=data["enrolled_days_ago"])
    completed_at = now - timedelta(days=data["completed_days_ago"]) if "completed_days_ago" in data else None
    modules = sorted(course.modules, key=lambda m: m.module_order)
    if completed_at is not None:  # every module done, spread evenly up to the completion date
        step = (completed_at - enrolled_at) / len(modules)
        done_at = [enrolled_at + step * (i + 1) for i in range(len(modules))]
    else:
        done_at = [now - timedelta(days=d) for d in data.get("done_days_ago", [])]
    try:
        enrollment = _purchase(student, course, teacher, at=enrolled_at)
    except (NotFound, RuleViolation, Conflict):
        return None  # unpublished, or made unbuyable while demoing: nothing was written
    # What happened after the purchase: the student's progress through the modules.
    enrollment.status = data["status"]
    enrollment.completed_at = completed_at
    enrollment.progress = [
        ModuleProgress(module_id=module.id, is_complete=True, completed_at=at)
        for module, at in zip(modules, done_at, strict=False)
    ]
    enrollment.updated_at = completed_at or (done_at[-1] if done_at else enrolled_at)
    return enrollment


def _link_id(url: str) -> str:
    """The sandbox onboarding link's id: the last segment of its URL's path."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def _connect_payouts(user: User, *, at: datetime) -> None:
    """Connect a sandbox payout account and finish its onboarding with payouts on: Fully active.

    Someone already connected (by an earlier load, or while demoing) is left as they are. The
    ``account.updated`` event goes through the Connect webhook path, processed at once at ``at``.
    """
    if user.stripe_account_id:
        return
    url = services.start_onboarding(user, now=at)
    sandbox.finish_onboarding(_link_id(url), payouts=True, now=at)
    db.session.refresh(user)
    if not (user.stripe_account_status == StripeAccountStatus.active and user.stripe_payouts_enabled):
        raise RuntimeError(f"the demo payout account of {user.email} did not become active")


@contextmanager
def _sandbox_gateway() -> Iterator[None]:
    """The demo's purchases and payout accounts are the sandbox's, whatever gateway is configured:
    its Pay button and onboarding page stand in for the people (the sandbox refuses production).

    Their receipts and notices are written to the outbox as for anyone; the outbox backend's
    log of each one is held back meanwhile, so the command prints its summary and the logins.
    """
    config = current_app.config
    configured = config["PAYMENT_GATEWAY"]
    outbox_log = logging.getLogger("peerloop.notifications.outbox")
    level = outbox_log.level
    config["PAYMENT_GATEWAY"] = "sandbox"
    outbox_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        config["PAYMENT_GATEWAY"] = configured
        outbox_log.setLevel(level)


def _count_from_rows(courses: list[Course]) -> None:
    """The figures pages show, counted from the rows that exist, the way the live code keeps them.

    A course's students are its enrollments (cancelled ones aside); its rating and reviews are its
    students' session ratings (``video.feedback.refresh_ratings``: none, no rating); a
    Student-Teacher's students taught are the students with a completed session with them
    (``refresh_teacher_counters``). Counting again gives the same figures, so loading twice changes
    nothing.
    """
    from peerloop.video.feedback import refresh_ratings, refresh_teacher_counters

    db.session.flush()
    live = Enrollment.status != EnrollmentStatus.cancelled
    course_ids = [course.id for course in courses]
    students = dict(
        db.session.execute(
            sa.select(Enrollment.course_id, sa.func.count(Enrollment.id))
            .where(Enrollment.course_id.in_(course_ids), live)
            .group_by(Enrollment.course_id)
        ).all()
    )
    for course in courses:
        course.student_count = students.get(course.id, 0)
        refresh_ratings(course.id)
    for st in db.session.scalars(sa.select(StudentTeacher).where(StudentTeacher.course_id.in_(course_ids))):
        refresh_teacher_counters(st.user_id, st.course_id)


# A few bell entries, so the bell has something to show (oldest first).
NOTIFICATIONS = {
    "sarah@example.com": [
        (
            "account.welcome",
            "Welcome to PeerLoop",
            "Find a course, pick a Student-Teacher and learn 1-on-1.",
            "/courses",
        ),
        (
            "enrollment.assigned",
            "Marcus Chen is your Student-Teacher",
            "Marcus will teach you Intro to Claude Code. Say hello before your first session.",
            "/@marcus",
        ),
    ],
    "marcus@example.com": [
        (
            "enrollment.assigned",
            "New student: Sarah Johnson",
            "Sarah enrolled in Intro to Claude Code and chose you as her Student-Teacher.",
            "/courses/intro-to-claude-code",
        ),
    ],
}


def _notifications(user: User, notes: list[tuple[str, str, str, str]], *, now: datetime) -> None:
    if db.session.scalar(sa.select(Notification.id).where(Notification.user_id == user.id).limit(1)):
        return  # the demo's notifications (or the person's own) are there already
    for age, (kind, title, body, url) in enumerate(reversed(notes)):
        db.session.add(
            Notification(
                user_id=user.id,
                type=kind,
                title=title,
                body=body,
                action_url=url,
                created_at=now - timedelta(days=9, hours=age),
            )
        )


def _payout_accounts() -> list[tuple[str, int]]:
    """Who connects a payout account, and how many days ago: each creator when their first course
    went up, each Student-Teacher when certified to teach."""
    first_course: dict[str, int] = {}
    for course in COURSES:
        first_course[course["creator"]] = max(first_course.get(course["creator"], 0), course["age_days"])
    teachers: dict[str, int] = {}
    for st in STUDENT_TEACHERS:
        teachers[st["user"]] = max(teachers.get(st["user"], 0), st["certified_days_ago"])
    return [*first_course.items(), *teachers.items()]


# --- booking: availability, delivered history, upcoming sessions, requests ------------------

# Each teacher's hours, wall-clock in their own zone (their profile's): (day_of_week 0 Sunday, start, end).
# Between them every day of the week has hours for each taught course, so the day view has dots.
# A blocked date and an extra evening, counted in days from the first load, show both rules.
AVAILABILITY = {
    "marcus@example.com": {
        "weekly": [(d, "17:00", "21:00") for d in (1, 2, 3, 4, 5)] + [(6, "09:00", "13:00")],
        "blocked_days_ahead": [6],
    },
    "aisha@example.com": {
        "weekly": [(2, "18:00", "21:00"), (4, "18:00", "21:00"), (0, "10:00", "14:00"), (6, "10:00", "14:00")],
        "session_minutes": 45,
        "override_days_ahead": [(3, "19:00", "21:00")],
    },
    "gabriel@example.com": {
        "weekly": [(d, "12:00", "15:00") for d in (1, 3, 5)] + [(0, "16:00", "18:00")],
    },
    "diego@example.com": {
        "weekly": [(d, "08:00", "12:00") for d in (1, 3, 5)] + [(6, "10:00", "14:00"), (0, "17:00", "19:00")],
    },
    "priya@example.com": {
        "weekly": [(d, "09:00", "12:00") for d in (2, 3, 4)],
        "buffer_minutes": 30,
    },
    "james@example.com": {
        "weekly": [(d, "18:00", "21:00") for d in (1, 2, 3, 4, 5)] + [(6, "10:00", "12:00")],
    },
    "elena@example.com": {
        "weekly": [(d, "07:00", "10:00") for d in (1, 2, 3, 4, 5, 6)],
        "session_minutes": 45,
    },
}

# Sessions already behind each enrollment, written as they ended (not booked now): (days ago, local
# start in the teacher's zone, outcome). "completed", "no_show" (the student's) and "late_cancel"
# (the student's, under 24 hours before) are delivered: each pays the teacher's share through
# release_teaching_share, so the ledger's releases equal the delivered count. None is a teacher's
# no-show or cancellation, which would pay nothing and free the place.
# Marcus's own students have no sessions behind them: his teaching pools are still held (the payouts
# demo shows a held balance and nothing available), and Sarah's two sessions are ahead (see below).
HISTORY = {
    ("marcus@example.com", "intro-to-claude-code"): [(110, "12:00", "completed"), (85, "13:00", "completed")],
    ("aisha@example.com", "intro-to-claude-code"): [(65, "10:00", "completed"), (52, "11:00", "completed")],
    ("diego@example.com", "practical-machine-learning"): [
        (155, "09:00", "completed"),
        (148, "09:00", "completed"),
        (141, "10:00", "no_show"),
        (134, "09:00", "completed"),
        (127, "11:00", "completed"),
        (115, "09:00", "completed"),
    ],
    ("tom@example.com", "practical-machine-learning"): [
        (15, "09:00", "completed"),
        (9, "10:00", "completed"),
        (4, "08:00", "late_cancel"),
    ],
    ("nina@example.com", "data-analysis-with-pandas"): [
        (55, "07:00", "completed"),
        (48, "08:00", "completed"),
        (41, "07:00", "completed"),
        (36, "09:00", "completed"),
    ],
    ("ben@example.com", "intro-to-claude-code"): [(37, "18:00", "completed"), (23, "19:00", "completed")],
    ("chloe@example.com", "intro-to-claude-code"): [(50, "17:00", "completed"), (34, "18:00", "completed")],
    ("leo@example.com", "intro-to-claude-code"): [(22, "19:00", "completed"), (9, "19:00", "completed")],
}

# Sarah's sessions with Marcus, booked through the booking service at his free times: the first
# free slot at least this many days ahead, with its agenda.
UPCOMING = [
    (2, "Install Claude Code and build a first small web page together."),
    (7, "Automate the weekly report I copy by hand."),
]

# Tom asks Diego for times outside Diego's hours: one waits for Diego (pending), one Diego answered
# with another time (countered), waiting for Tom. (days ahead, local time in Tom's zone, message,
# Diego's counter as (days after Tom's date, local time in Diego's zone, message) or None)
REQUESTS = [
    (3, "19:00", "Could we do an evening? I work until six.", None),
    (
        5,
        "20:30",
        "Any chance of a late session before my project deadline?",
        (1, "11:00", "I teach a class then. Does 11:00 my time the next day work?"),
    ),
]


def _local_instant(day: date, hhmm: str, zone: str) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone_for(zone)).astimezone(UTC)


def _availability(user: User, data: dict, *, now: datetime) -> None:
    """Set the teacher's hours once; hours someone set while demoing are left as they are."""
    if db.session.get(AvailabilitySettings, user.id) is not None:
        return
    today = now.astimezone(zone_for(user.timezone)).date()
    scheduling.set_availability(
        user,
        {
            "timezone": user.timezone,
            "weekly": [{"day_of_week": d, "start": s, "end": e} for d, s, e in data["weekly"]],
            "blocked_dates": [(today + timedelta(days=n)).isoformat() for n in data.get("blocked_days_ahead", [])],
            "overrides": [
                {"date": (today + timedelta(days=n)).isoformat(), "start": s, "end": e}
                for n, s, e in data.get("override_days_ahead", [])
            ],
            "session_minutes": data.get("session_minutes", 60),
            "buffer_minutes": data.get("buffer_minutes", 15),
            "min_notice_hours": 4,
            "max_window_days": 14,
            "paused": False,
        },
        now=now,
    )


DEMO_RATINGS = [
    (5, "Clear explanations, and we fixed my setup together."),
    (4, "Helpful; we ran a little over time."),
    (5, "Exactly the pace I needed."),
]


def _history(enrollment: Enrollment, plan: list[tuple[int, str, str]], *, now: datetime) -> None:
    """Write the enrollment's past sessions (once: only when it has none), then release the teaching
    share of each delivered one. Releasing is idempotent per session, so a load interrupted between
    the two finishes the releases next time."""
    teacher_id = enrollment.student_teacher_id or enrollment.course.creator_id
    has_sessions = db.session.scalar(
        sa.select(TutoringSession.id).where(TutoringSession.enrollment_id == enrollment.id).limit(1)
    )
    if has_sessions is None and enrollment.status not in (EnrollmentStatus.cancelled, EnrollmentStatus.frozen):
        teacher = db.session.get(User, teacher_id)
        length = timedelta(minutes=scheduling.session_minutes_of(teacher_id))
        delivered = 0
        rated: list[TutoringSession] = []
        for days_ago, hhmm, outcome in sorted(plan, reverse=True):
            start = _local_instant((now - timedelta(days=days_ago)).date(), hhmm, teacher.timezone)
            booked_at = max(enrollment.enrolled_at, start - timedelta(days=4))
            session = TutoringSession(
                enrollment_id=enrollment.id,
                course_id=enrollment.course_id,
                teacher_id=teacher_id,
                student_id=enrollment.student_id,
                scheduled_start=start,
                scheduled_end=start + length,
                created_at=booked_at,
                booked_at=booked_at,
            )
            if outcome in ("completed", "no_show"):
                session.outcome_source = "sweep"
            if outcome == "completed":
                session.status = SessionStatus.completed
                session.started_at, session.ended_at = start + timedelta(minutes=1), start + length
                rated.append(session)
            elif outcome == "no_show":
                session.status, session.no_show_by = SessionStatus.no_show, NoShowBy.student
            else:  # the student's late cancellation: the session counts as used
                session.status, session.late_cancellation = SessionStatus.cancelled, True
                session.cancelled_by, session.cancelled_at = enrollment.student_id, start - timedelta(hours=5)
                session.cancel_reason = "Something came up at work, sorry."
                session.sequence = 1
            delivered += 1
            session.number = delivered
            session.updated_at = session.ended_at or session.cancelled_at or start + length
            db.session.add(session)
        if delivered > enrollment.session_count:
            raise RuntimeError(f"the demo history of {enrollment.id} has more sessions than were bought")
        # As booking does: the first teacher is the enrollment's (a creator teaching their course).
        enrollment.student_teacher_id = teacher_id
        db.session.flush()
        for n, session in enumerate(rated):  # the student rated each session they had, the next day
            stars, comment = DEMO_RATINGS[(n + len(plan)) % len(DEMO_RATINGS)]
            db.session.add(
                Assessment(
                    session_id=session.id,
                    assessor_id=session.student_id,
                    assessee_id=session.teacher_id,
                    rating=stars,
                    comment=comment,
                    created_at=session.scheduled_end + timedelta(days=1),
                )
            )
        db.session.commit()
    past = db.session.scalars(
        sa.select(TutoringSession)
        .where(TutoringSession.enrollment_id == enrollment.id, TutoringSession.scheduled_start <= now)
        .order_by(TutoringSession.scheduled_start)
    ).all()
    for session in past:
        if _delivered(session):
            services.release_teaching_share(
                session, now=session.cancelled_at or session.ended_at or session.scheduled_end
            )


def _delivered(session: TutoringSession) -> bool:
    """The booking rules' delivered session (scheduling.services): completed, or the student's no-show
    or late cancellation. A Certification Assessment is never one (it pays no share)."""
    if session.kind != SessionKind.regular:
        return False
    if session.status == SessionStatus.no_show:
        return session.no_show_by == NoShowBy.student
    if session.status == SessionStatus.cancelled:
        return session.late_cancellation and session.cancelled_by == session.student_id
    return session.status == SessionStatus.completed


def _upcoming(student: User, teacher: User, course: Course, *, now: datetime) -> None:
    """Book the student's sessions with the teacher at free times, as the day view does (once:
    only when the enrollment has no sessions yet)."""
    enrollment = db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.student_id == student.id,
            Enrollment.course_id == course.id,
            Enrollment.status.in_(scheduling.BOOKABLE_ENROLLMENT),
        )
    )
    if enrollment is None or db.session.scalar(
        sa.select(TutoringSession.id).where(TutoringSession.enrollment_id == enrollment.id).limit(1)
    ):
        return
    for days_ahead, agenda in UPCOMING[: enrollment.session_count]:
        free = scheduling.free_slots_for([teacher.id], now=now, student_id=student.id).get(teacher.id, [])
        start = next((s for s in free if s >= now + timedelta(days=days_ahead)), None)
        if start is None:
            return  # the teacher has no hours left that far ahead (paused while demoing)
        try:
            scheduling.book(student, course_id=course.id, teacher_id=teacher.id, start=start, agenda=agenda, now=now)
        except (NotFound, RuleViolation, Conflict):
            db.session.rollback()
            return


def _requests(student: User, teacher: User, course: Course, *, now: datetime) -> None:
    """The student's open requests to the teacher, once (none exist between them yet)."""
    exists = db.session.scalar(
        sa.select(SessionRequest.id).where(
            SessionRequest.student_id == student.id, SessionRequest.teacher_id == teacher.id
        )
    )
    if exists is not None:
        return
    student_day = now.astimezone(zone_for(student.timezone)).date()
    for days_ahead, hhmm, message, counter in REQUESTS:
        proposed = _local_instant(student_day + timedelta(days=days_ahead), hhmm, student.timezone)
        try:
            request = session_requests.create_request(
                student,
                course_id=course.id,
                teacher_id=teacher.id,
                proposed_start=scheduling.iso_z(proposed),
                message=message,
                now=now,
            )
            if counter is not None:
                c_days, c_hhmm, c_message = counter
                their_day = proposed.astimezone(zone_for(teacher.timezone)).date()
                c_start = _local_instant(their_day + timedelta(days=c_days), c_hhmm, teacher.timezone)
                session_requests.respond(
                    teacher,
                    request.id,
                    action="counter",
                    start=scheduling.iso_z(c_start),
                    message=c_message,
                    now=now,
                )
        except (NotFound, RuleViolation, Conflict):
            db.session.rollback()
            return


# --- certification: the flywheel after the last module (seed 000 §1) -------------------------

# Certification Assessments already held with the student's own S-T, written as they ended (as
# HISTORY's sessions are): (days ago, local start in the S-T's zone). Leo has none yet: he books his.
ASSESSMENTS = {
    ("ben@example.com", "intro-to-claude-code"): (10, "18:00"),
    ("chloe@example.com", "intro-to-claude-code"): (21, "17:00"),
}

# What followed each assessment, through the certification services at its own moment (their
# notifications included): the S-T recommends ("recommended_days_ago", with a note); the creator
# certifies ("certified_days_ago", a completion certificate); the certified student applies to
# teach ("applied_days_ago", with a motivation). Ben's recommendation is older than 7 days, so
# Brian's overview shows it among the decisions waiting too long.
CERTIFICATION = [
    {
        "student": "ben@example.com",
        "course": "intro-to-claude-code",
        "recommended_days_ago": 9,
        "note": (
            "Ben built and published his bakery's order page and automated his weekly sales report. In the "
            "assessment he fixed a broken script on his own and explained every change Claude proposed."
        ),
    },
    {
        "student": "chloe@example.com",
        "course": "intro-to-claude-code",
        "recommended_days_ago": 20,
        "note": "Chloe shipped two automations for her team and debugged the third live in the assessment.",
        "certified_days_ago": 18,
        "applied_days_ago": 2,
        "motivation": (
            "I went from never opening a terminal to automating my team's reporting. I would love to help "
            "other beginners get there: evenings and weekends in Paris time suit me."
        ),
    },
]


def _latest_enrollment(student: User, course: Course) -> Enrollment | None:
    return db.session.scalars(
        sa.select(Enrollment)
        .where(Enrollment.student_id == student.id, Enrollment.course_id == course.id)
        .order_by(Enrollment.enrolled_at.desc())
    ).first()


def _assessment(enrollment: Enrollment, days_ago: int, hhmm: str, *, now: datetime) -> None:
    """The student's Certification Assessment with their own S-T, held and completed ``days_ago``
    (once: only when the enrollment has none and every module is done). It takes no number and
    pays no share, as the booking rules say."""
    held = db.session.scalar(
        sa.select(TutoringSession.id).where(
            TutoringSession.enrollment_id == enrollment.id,
            TutoringSession.kind == SessionKind.certification_assessment,
        )
    )
    if held is not None or enrollment.student_teacher_id is None or not all_modules_done(enrollment):
        return
    teacher = db.session.get(User, enrollment.student_teacher_id)
    start = _local_instant((now - timedelta(days=days_ago)).date(), hhmm, teacher.timezone)
    end = start + timedelta(minutes=scheduling.session_minutes_of(teacher.id))
    booked_at = start - timedelta(days=3)
    db.session.add(
        TutoringSession(
            enrollment_id=enrollment.id,
            course_id=enrollment.course_id,
            teacher_id=teacher.id,
            student_id=enrollment.student_id,
            kind=SessionKind.certification_assessment,
            status=SessionStatus.completed,
            scheduled_start=start,
            scheduled_end=end,
            started_at=start + timedelta(minutes=1),
            ended_at=end,
            outcome_source="sweep",
            agenda="Certification Assessment: walk through my project and the course's exercises.",
            created_at=booked_at,
            booked_at=booked_at,
            updated_at=end,
        )
    )
    db.session.commit()


def _certification(plan: dict, *, student: User, course: Course, now: datetime) -> None:
    """The plan's steps through the certification services, each dated its own day. A step is taken
    once: a recommendation only when the enrollment has none (whatever became of it while demoing),
    the certificate only while that recommendation is pending, the application only when the student
    never applied to teach the course."""
    enrollment = _latest_enrollment(student, course)
    if enrollment is None or enrollment.student_teacher_id is None:
        return
    try:
        request = db.session.scalars(
            sa.select(CertificationRequest)
            .where(CertificationRequest.enrollment_id == enrollment.id)
            .order_by(CertificationRequest.created_at.desc())
        ).first()
        if request is None:
            request = certification.recommend(
                db.session.get(User, enrollment.student_teacher_id),
                enrollment.id,
                note=plan["note"],
                now=now - timedelta(days=plan["recommended_days_ago"]),
            )
        if "certified_days_ago" in plan and request.status == DecisionStatus.pending:
            certification.approve_certification(
                course.creator, request.id, kind="completion", now=now - timedelta(days=plan["certified_days_ago"])
            )
        applied = db.session.scalar(
            sa.select(TeachApplication.id).where(
                TeachApplication.user_id == student.id, TeachApplication.course_id == course.id
            )
        )
        if "applied_days_ago" in plan and applied is None:
            certification.apply_to_teach(
                student, course.id, message=plan["motivation"], now=now - timedelta(days=plan["applied_days_ago"])
            )
    except (NotFound, RuleViolation, Conflict):
        db.session.rollback()  # changed while demoing (modules unticked, a certificate revoked): left as it is


def load_demo(*, now: datetime) -> str:
    """Create whatever demo rows are missing, commit, and say what the demo holds.

    The people, courses and Student-Teachers commit first; each payout account and purchase then
    commits on its own, as the payment services do.
    """
    emails = [u["email"] for u in USERS]
    existing = set(db.session.scalars(sa.select(User.email).where(User.email.in_(emails))))
    # Hashing is slow: once for everyone, and only when someone is new.
    password_hash = hash_password(DEMO_PASSWORD) if existing != set(emails) else ""

    categories = {slug: _category(name, slug, order) for order, (name, slug) in enumerate(CATEGORIES, start=1)}
    users = {u["email"]: _user(u, password_hash=password_hash, now=now) for u in USERS}
    courses = {
        c["slug"]: _course(c, creator=users[c["creator"]], category=categories[c["category"]], now=now) for c in COURSES
    }
    db.session.flush()  # ids for the rows below

    for st in STUDENT_TEACHERS:
        _student_teacher(
            st,
            user=users[st["user"]],
            course=courses[st["course"]],
            recommender=users[st["recommended_by"]],
            now=now,
        )
    # Before the purchases: a person's own notices (the receipts below) would hide the demo's.
    for email, notes in NOTIFICATIONS.items():
        _notifications(users[email], notes, now=now)
    db.session.commit()  # the services below commit as they go

    with _sandbox_gateway():
        for email, days_ago in _payout_accounts():
            _connect_payouts(users[email], at=now - timedelta(days=days_ago))
        for e in ENROLLMENTS:
            _enrollment(
                e,
                student=users[e["student"]],
                course=courses[e["course"]],
                teacher=users[e["teacher"]] if e["teacher"] else None,
                now=now,
            )
        # Booking: every teacher's hours, the sessions behind the enrollments (their shares paid),
        # Sarah's next sessions with Marcus, and Tom's open requests to Diego.
        for email, hours in AVAILABILITY.items():
            _availability(users[email], hours, now=now)
        for (email, slug), plan in HISTORY.items():
            enrollment = db.session.scalar(
                sa.select(Enrollment)
                .where(Enrollment.student_id == users[email].id, Enrollment.course_id == courses[slug].id)
                .order_by(Enrollment.enrolled_at.desc())
            )
            if enrollment is not None:
                _history(enrollment, plan, now=now)
        _upcoming(users["sarah@example.com"], users["marcus@example.com"], courses["intro-to-claude-code"], now=now)
        _requests(users["tom@example.com"], users["diego@example.com"], courses["practical-machine-learning"], now=now)
        # Certification: the assessments held, then the recommendations, certificates and
        # applications that followed, waiting in Gabriel's two studio queues.
        for (email, slug), (days_ago, hhmm) in ASSESSMENTS.items():
            enrollment = _latest_enrollment(users[email], courses[slug])
            if enrollment is not None:
                _assessment(enrollment, days_ago, hhmm, now=now)
        for plan in CERTIFICATION:
            _certification(plan, student=users[plan["student"]], course=courses[plan["course"]], now=now)
    _count_from_rows(list(courses.values()))
    db.session.commit()

    drafts = sum(1 for c in COURSES if c.get("is_active") is False)
    certified = sum(1 for plan in CERTIFICATION if "certified_days_ago" in plan)
    return (
        f"{len(users)} users, {len(courses)} courses ({drafts} draft), {len(categories)} categories, "
        f"{len(STUDENT_TEACHERS)} student-teachers, {2 * len(STUDENT_TEACHERS) + certified} certificates, "
        f"{len(ENROLLMENTS)} enrollments, {len(AVAILABILITY)} teachers with hours, "
        f"{sum(len(plan) for plan in HISTORY.values())} past and {len(UPCOMING)} upcoming sessions, "
        f"{len(REQUESTS)} time requests, {len(ASSESSMENTS)} certification assessments held, "
        f"{len(CERTIFICATION) - certified} certification request and "
        f"{sum(1 for plan in CERTIFICATION if 'applied_days_ago' in plan)} application to teach waiting"
    )
